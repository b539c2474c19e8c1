"""Where to connect: regional base URLs and the clear-text key check. Pure."""

from __future__ import annotations

import ipaddress
from typing import Literal
from urllib.parse import urlsplit

Region = Literal["singapore", "beijing", "virginia", "hongkong"]

REGION_BASE_URLS: dict[str, str] = {
    "singapore": "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
    "beijing": "https://dashscope.aliyuncs.com/compatible-mode/v1",
    "virginia": "https://dashscope-us.aliyuncs.com/compatible-mode/v1",
    "hongkong": "https://cn-hongkong.dashscope.aliyuncs.com/compatible-mode/v1",
}

_COMPLETIONS_PATH = "/chat/completions"


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and any address in 127.0.0.0/8 or ``::1``."""
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def normalise_base_url(base_url: str, *, allow_insecure_http: bool) -> str:
    """Validate a base URL and strip a trailing slash or ``/chat/completions``.

    A plain ``http://`` URL is refused unless its host is loopback or ``allow_insecure_http``
    is set, because the API key would travel in clear text.

    Example:
        >>> normalise_base_url("http://127.0.0.1:8000/compatible-mode/v1/",
        ...                    allow_insecure_http=False)
        'http://127.0.0.1:8000/compatible-mode/v1'
    """
    url = base_url.strip().rstrip("/")
    if url.endswith(_COMPLETIONS_PATH):
        url = url[: -len(_COMPLETIONS_PATH)]
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"base_url={base_url!r} is not an http(s) URL — use e.g. "
            f"{REGION_BASE_URLS['singapore']!r}, or set region= instead."
        )
    if parts.scheme == "http" and not allow_insecure_http and not is_loopback_host(parts.hostname):
        raise ValueError(
            f"base_url={base_url!r} uses plain http on a non-loopback host, so the API key would "
            "travel in clear text — use https, or set allow_insecure_http=True if you really "
            "mean it (e.g. a trusted proxy on a private network)."
        )
    return url


def completions_url(base_url: str) -> str:
    """The chat completions endpoint under a normalised base URL."""
    return base_url + _COMPLETIONS_PATH
