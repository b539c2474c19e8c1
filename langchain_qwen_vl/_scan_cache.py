"""The cache of transcribed pages, so that a re-run bills zero finished pages; any ByteStore.

One small JSON entry per page, keyed by the SHA-256 of everything that decides the answer:
the file's bytes, the page index, the model and endpoint, the prompt and output mode, the
rendering parameters (DPI policy, pixel budget, encoding), ``max_tokens`` and the sampling
fields. Change any of them and the page is transcribed again; change nothing and the page is
read back without rendering it and without a request.

Storage is any LangChain ``ByteStore`` (``InMemoryByteStore``, a Redis/S3/database store, ...)
so that workers on many machines can share one cache; ``cache_dir`` is a
:class:`DirectoryByteStore`. Keys are stable and independent of the store:

- ``qwen-vl-scan/v1/page/<sha256>``: a finished page (JSON: ``v``, ``key``, ``page``);
- ``qwen-vl-scan/v1/pending/<sha256>``: a page submitted to the Batch API and not yet
  collected (JSON: ``job_id``, ``index`` and the page image's size), so a crashed run resumes
  the job instead of submitting the page again.

An entry is written whole (the directory store writes a temporary file and renames it), so
concurrent writers of one page are harmless: both write a complete entry for the same inputs
and the last one wins. Failed pages are never cached. Entries are plain JSON, safe to delete.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.stores import BaseStore, ByteStore

__all__ = [
    "CACHE_FORMAT_VERSION",
    "PAGE_KEY_PREFIX",
    "PENDING_KEY_PREFIX",
    "CachedPage",
    "DirectoryByteStore",
    "PageCache",
    "file_sha256",
    "page_cache_key",
]

#: Bumped when the entry layout or the meaning of a key field changes.
CACHE_FORMAT_VERSION = 1
#: Store key of a finished page: this prefix + the page's cache key.
PAGE_KEY_PREFIX = f"qwen-vl-scan/v{CACHE_FORMAT_VERSION}/page/"
#: Store key of a page submitted to the Batch API and not collected yet.
PENDING_KEY_PREFIX = f"qwen-vl-scan/v{CACHE_FORMAT_VERSION}/pending/"
_SAFE_KEY = re.compile(r"\A[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*\Z")
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


class DirectoryByteStore(ByteStore):
    """A ``ByteStore`` in a directory; what ``cache_dir`` uses.

    A page entry lives at ``<dir>/<key[:2]>/<key>.json`` (the layout of earlier versions, so
    existing caches stay valid); any other key at ``<dir>/_keys/<key>``. Writes are atomic.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory).expanduser()

    def path_of(self, key: str) -> Path:
        """Where ``key`` lives; a ``ValueError`` for a key that is not a plain relative path."""
        if not _SAFE_KEY.match(key) or ".." in key.split("/"):
            raise ValueError(f"cache key {key!r} is not a plain relative path")
        if key.startswith(PAGE_KEY_PREFIX):
            digest = key[len(PAGE_KEY_PREFIX) :]
            return self.directory / digest[:2] / f"{digest}.json"
        return self.directory / "_keys" / key

    def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        values: list[bytes | None] = []
        for key in keys:
            try:
                values.append(self.path_of(key).read_bytes())
            except OSError:
                values.append(None)
        return values

    def mset(self, key_value_pairs: Sequence[tuple[str, bytes]]) -> None:
        for key, value in key_value_pairs:
            target = self.path_of(key)
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(
                prefix=f".{target.name[:12]}.", suffix=".tmp", dir=target.parent
            )
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(value)
                os.replace(tmp, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise

    def mdelete(self, keys: Sequence[str]) -> None:
        for key in keys:
            with contextlib.suppress(OSError):
                self.path_of(key).unlink()

    def yield_keys(self, *, prefix: str | None = None) -> Iterator[str]:
        for path in self.directory.glob("??/*.json"):
            key = PAGE_KEY_PREFIX + path.stem
            if prefix is None or key.startswith(prefix):
                yield key
        other = self.directory / "_keys"
        for path in other.rglob("*"):
            if path.is_file() and not path.name.endswith(".tmp"):
                key = path.relative_to(other).as_posix()
                if prefix is None or key.startswith(prefix):
                    yield key


class PageCache:
    """Finished pages (and pending batch pages) in a ``ByteStore`` or a directory.

    Example:
        >>> cache = PageCache(InMemoryByteStore())  # doctest: +SKIP
        >>> cache.put(key, CachedPage(...)); cache.get(key).text  # doctest: +SKIP
    """

    def __init__(self, store: ByteStore | str | os.PathLike[str]) -> None:
        if isinstance(store, BaseStore):
            self.store: ByteStore = store
            self.directory: Path | None = None
        else:
            self.store = DirectoryByteStore(store)
            self.directory = self.store.directory

    def get(self, key: str) -> CachedPage | None:
        """The entry for ``key``, or None when missing or unreadable (then it is re-done)."""
        try:
            raw = self.store.mget([PAGE_KEY_PREFIX + key])[0]
            if raw is None:
                return None
            payload = json.loads(raw)
            if payload.get("v") != CACHE_FORMAT_VERSION or payload.get("key") != key:
                return None
            return CachedPage.from_json(payload["page"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def __contains__(self, key: str) -> bool:
        return self.store.mget([PAGE_KEY_PREFIX + key])[0] is not None

    def put(self, key: str, page: CachedPage) -> None:
        """Write one entry whole (atomically in a directory)."""
        body = json.dumps(
            {"v": CACHE_FORMAT_VERSION, "key": key, "page": asdict(page)}, ensure_ascii=False
        )
        self.store.mset([(PAGE_KEY_PREFIX + key, body.encode())])

    # --- pages submitted to the Batch API ----------------------------------------------------

    def pending(self, keys: Sequence[str]) -> list[dict[str, Any] | None]:
        """The pending-batch records of ``keys`` (None where there is none or it is unreadable)."""
        out: list[dict[str, Any] | None] = []
        for raw in self.store.mget([PENDING_KEY_PREFIX + key for key in keys]):
            try:
                record = json.loads(raw) if raw is not None else None
            except ValueError:
                record = None
            out.append(record if isinstance(record, dict) and "job_id" in record else None)
        return out

    def set_pending(self, records: Mapping[str, Mapping[str, Any]]) -> None:
        """Remember which batch job holds each page (``key -> {job_id, index, ...}``)."""
        self.store.mset(
            [
                (PENDING_KEY_PREFIX + key, json.dumps(dict(value)).encode())
                for key, value in records.items()
            ]
        )

    def clear_pending(self, keys: Sequence[str]) -> None:
        """Forget the pending records of ``keys`` (collected, cached or failed)."""
        self.store.mdelete([PENDING_KEY_PREFIX + key for key in keys])
