"""The on-disk cache of transcribed pages, so that a re-run bills zero finished pages.

One small JSON file per page, named by the SHA-256 of everything that decides the answer:
the file's bytes, the page index, the model and endpoint, the prompt and output mode, the
rendering parameters (DPI policy, pixel budget, encoding), ``max_tokens`` and the sampling
fields. Change any of them and the page is transcribed again; change nothing and the page is
read back without rendering it and without a request.

A page is written the moment its answer arrives (not when it is yielded), with a temporary
file and ``os.replace``: a crash or Ctrl-C leaves either the whole entry or none, never half a
JSON file. Failed pages are never cached. Entries are plain JSON, safe to delete at any time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["CACHE_FORMAT_VERSION", "CachedPage", "PageCache", "file_sha256", "page_cache_key"]

#: Bumped when the entry layout or the meaning of a key field changes.
CACHE_FORMAT_VERSION = 1
_CHUNK = 1 << 20


def file_sha256(path: str | os.PathLike[str] | None = None, data: bytes | None = None) -> str:
    """SHA-256 (hex) of a file, read in 1 MiB chunks, or of ``data``.

    Example:
        >>> file_sha256(data=b"")[:16]
        'e3b0c44298fc1c14'
    """
    digest = hashlib.sha256()
    if data is not None:
        digest.update(data)
    elif path is not None:
        with open(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
    else:
        raise ValueError("file_sha256 needs a path or data")
    return digest.hexdigest()


def page_cache_key(
    *,
    file_hash: str,
    page: int,
    model: str,
    prompt: str,
    output: str,
    render: Mapping[str, Any],
    max_tokens: int | None,
    request: Mapping[str, Any] | None = None,
) -> str:
    """The cache key of one page: SHA-256 of a canonical JSON of every input of the answer.

    Example:
        >>> key = page_cache_key(file_hash="ab", page=0, model="qwen3-vl-flash", prompt="p",
        ...                      output="markdown", render={"dpi": None}, max_tokens=4096)
        >>> len(key)
        64
    """
    material = {
        "v": CACHE_FORMAT_VERSION,
        "file": file_hash,
        "page": page,
        "model": model,
        "prompt": prompt,
        "output": output,
        "render": dict(render),
        "max_tokens": max_tokens,
        "request": dict(request or {}),
    }
    canonical = json.dumps(material, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class CachedPage:
    """What is kept of one transcribed page: its text and the metadata of the answer."""

    text: str
    model: str
    input_tokens: int | None
    output_tokens: int | None
    total_tokens: int | None
    image_width: int
    image_height: int
    image_mime_type: str
    dpi: float | None = None
    finish_reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> CachedPage:
        """Rebuild an entry; raises ``KeyError``/``TypeError``/``ValueError`` when malformed."""
        return cls(
            text=str(payload["text"]),
            model=str(payload["model"]),
            input_tokens=_optional_int(payload.get("input_tokens")),
            output_tokens=_optional_int(payload.get("output_tokens")),
            total_tokens=_optional_int(payload.get("total_tokens")),
            image_width=int(payload["image_width"]),
            image_height=int(payload["image_height"]),
            image_mime_type=str(payload["image_mime_type"]),
            dpi=None if payload.get("dpi") is None else float(payload["dpi"]),
            finish_reason=payload.get("finish_reason"),
            extra=dict(payload.get("extra") or {}),
        )


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


class PageCache:
    """A directory of cached pages: ``<dir>/<key[:2]>/<key>.json``.

    Example:
        >>> cache = PageCache(tmp_path)  # doctest: +SKIP
        >>> cache.put(key, CachedPage(...)); cache.get(key).text  # doctest: +SKIP
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory).expanduser()

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> CachedPage | None:
        """The entry for ``key``, or None when missing or unreadable (then it is re-done)."""
        try:
            with open(self._path(key), encoding="utf-8") as fh:
                payload = json.load(fh)
            if payload.get("v") != CACHE_FORMAT_VERSION or payload.get("key") != key:
                return None
            return CachedPage.from_json(payload["page"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def __contains__(self, key: str) -> bool:
        return self._path(key).is_file()

    def put(self, key: str, page: CachedPage) -> None:
        """Write an entry atomically: a temporary file in the same folder, then ``os.replace``."""
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps(
            {"v": CACHE_FORMAT_VERSION, "key": key, "page": asdict(page)}, ensure_ascii=False
        )
        fd, tmp = tempfile.mkstemp(prefix=f".{key[:12]}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(body)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
