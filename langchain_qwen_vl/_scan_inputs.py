"""Inputs of the scan loader: paths, directories and globs to files; blobs to bytes or sources."""

from __future__ import annotations

import glob as _glob
import os
from pathlib import Path

from langchain_core.document_loaders import Blob

from langchain_qwen_vl._scan_cache import file_sha256
from langchain_qwen_vl._scan_render import ScanSource, open_source

__all__ = ["SCAN_SUFFIXES", "ScanPath", "blob_name", "hash_blob", "open_blob", "resolve_scan_paths"]

ScanPath = str | os.PathLike[str]
#: File name endings picked up when a directory is given (a glob takes every match).
SCAN_SUFFIXES = frozenset(
    {".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp", ".gif"}
)


def blob_name(blob: Blob, number: int) -> str:
    """The ``source`` of a blob: its metadata source, its path, or ``blob-<n>``."""
    source = blob.source
    return str(source) if source else f"blob-{number}"


def hash_blob(blob: Blob) -> str:
    """SHA-256 of a blob's bytes (its file, read in chunks, when it has no data)."""
    if blob.data is not None:
        data = blob.data.encode(blob.encoding) if isinstance(blob.data, str) else blob.data
        return file_sha256(data=data)
    return file_sha256(blob.path)


def open_blob(blob: Blob, name: str, *, password: str | None, reopen_every: int) -> ScanSource:
    """Open a blob's file or bytes as a page source (on the PDFium thread)."""
    data = blob.data.encode(blob.encoding) if isinstance(blob.data, str) else blob.data
    path = None if data is not None else blob.path
    return open_source(
        name,
        path=path,
        data=data,
        password=password,
        reopen_every=reopen_every,
    )


def resolve_scan_paths(path: ScanPath, *, recursive: bool = True) -> list[Path]:
    """A file as itself (even if missing: it fails later, by name); a directory walked for
    :data:`SCAN_SUFFIXES`; a pattern with ``*``, ``?`` or ``[`` globbed (``**`` recursive)."""
    text = os.fspath(path)
    if any(char in text for char in "*?[") and not os.path.exists(text):
        return sorted(Path(p) for p in _glob.glob(text, recursive=True) if os.path.isfile(p))
    root = Path(text).expanduser()
    if not root.is_dir():
        return [root]
    walk = root.rglob("*") if recursive else root.glob("*")
    return sorted(
        p
        for p in walk
        if p.is_file()
        and p.suffix.lower() in SCAN_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
