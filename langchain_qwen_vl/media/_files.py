"""Which local files may be read: the ``allowed_dirs`` policy of the chat model and the tool.

An app that forwards client-supplied messages (or an agent that an LLM drives) must not be
talked into uploading the server's own files. ``allowed_dirs=None`` reads any path (a
developer's own script); a list allows only files inside those directories; ``[]`` allows
no local file at all (URLs, data URIs, bytes and PIL images still work).

A path must be inside an allowed directory both as written (absolute, ``..`` folded — no file
system access, so nothing outside is probed) and once every symlink is resolved. The file is
then opened without following a final symlink and, where the OS tells (Linux ``/proc``), the
opened file's real path is checked again, so a path swapped for a symlink after the check is
refused too. A refusal reads the same whether or not the file exists.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

__all__ = ["FileProblem", "LocalFilePolicy"]


class FileProblem(Exception):
    """Why a local file cannot be used; ``refused`` when the policy (not the file) says no.

    Callers turn it into their own error type (``QwenVLImageError`` for the chat model, an
    error ``ToolMessage`` for the vision tool).
    """

    def __init__(self, reason: str, *, refused: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.refused = refused


_REASONS = {
    "ENOENT": "no such file",
    "EISDIR": "is a directory, not an image file",
    "EACCES": "permission denied",
    "ELOOP": "is a symbolic link that cannot be followed",
}


def _problem(error: OSError) -> FileProblem:
    code = errno.errorcode.get(error.errno or 0, "")
    return FileProblem(_REASONS.get(code, error.strerror or str(error)))


@dataclass(frozen=True, slots=True)
class _AllowedDir:
    lexical: Path  # absolute, `..` folded, symlinks kept: what users write
    resolved: Path  # every symlink resolved: where the files really are


def _is_inside(path: Path, roots: Sequence[Path]) -> bool:
    return any(path.is_relative_to(root) for root in roots)


def _opened_path(fd: int) -> Path | None:
    """The real path of an open file, where the OS tells it (Linux ``/proc``), else None."""
    try:
        return Path(os.readlink(f"/proc/self/fd/{fd}"))
    except OSError:
        return None


def normalise_dirs(value: object, field: str = "allowed_dirs") -> tuple[Path, ...] | None:
    """Validate ``allowed_dirs``: None stays None; a path or list becomes absolute paths of
    existing directories (as written, ``..`` folded). Raises ValueError naming the entry.

    Example:
        >>> normalise_dirs(None) is None, normalise_dirs([])
        (True, ())
    """
    if value is None:
        return None
    if isinstance(value, (str, os.PathLike)):
        value = [value]
    if not isinstance(value, (list, tuple, set, frozenset)):
        raise ValueError(f"{field}: expected a list of directory paths, got {value!r}")
    dirs: list[Path] = []
    for index, item in enumerate(value):
        if not isinstance(item, (str, os.PathLike)) or not os.fspath(item):
            raise ValueError(f"{field}[{index}]: {item!r} is not a directory path")
        written = Path(os.path.abspath(Path(item).expanduser()))
        try:
            resolved = written.resolve(strict=True)
        except (OSError, RuntimeError) as error:
            raise ValueError(
                f"{field}[{index}]: {os.fspath(item)!r} does not exist ({error})"
            ) from None
        if not resolved.is_dir():
            raise ValueError(f"{field}[{index}]: {os.fspath(item)!r} is not a directory")
        dirs.append(written)
    return tuple(dirs)


class LocalFilePolicy:
    """Decides whether a local path may be read, and reads it safely.

    Example:
        >>> LocalFilePolicy(None).restricted, LocalFilePolicy([]).restricted
        (False, True)
    """

    __slots__ = ("_dirs",)

    def __init__(self, allowed_dirs: Sequence[Path] | None) -> None:
        self._dirs = None if allowed_dirs is None else tuple(allowed_dirs)

    @property
    def restricted(self) -> bool:
        return self._dirs is not None

    @property
    def allows_no_file(self) -> bool:
        return self._dirs == ()

    def _allowed(self) -> list[_AllowedDir]:
        # Symlinks in the configured directories are resolved at each check: a directory
        # configured through a symlink (/tmp on macOS) is how users write its paths.
        return [_AllowedDir(d, d.resolve()) for d in self._dirs or ()]

    def check(self, path_text: str) -> str:
        """The path to open if the policy allows ``path_text``; else :class:`FileProblem`
        with ``refused=True`` (the same whether or not the file exists)."""
        if self._dirs is None:
            return path_text
        allowed = self._allowed()
        refused = FileProblem("outside the allowed directories", refused=True)
        if not allowed or "\x00" in path_text:
            raise refused
        lexical = Path(os.path.abspath(path_text))
        if not _is_inside(lexical, [d.lexical for d in allowed] + [d.resolved for d in allowed]):
            raise refused
        try:
            resolved = Path(path_text).resolve()
        except (OSError, RuntimeError, ValueError):  # a symlink loop, or an unusable path
            raise refused from None
        if not _is_inside(resolved, [d.resolved for d in allowed]):
            raise refused
        return str(resolved)

    def open(
        self, path: str, max_bytes: int | None = None, limit_label: str = "the limit"
    ) -> BinaryIO:
        """Open an allowed regular file for reading (see the module docstring)."""
        if self._dirs is None:
            try:
                handle = open(path, "rb")  # noqa: SIM115 - returned to the caller
            except OSError as error:
                raise _problem(error) from None
            return handle
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        flags |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
        try:
            fd = os.open(path, flags)
        except OSError as error:
            raise _problem(error) from None
        try:
            info = os.fstat(fd)
            real = _opened_path(fd)
            if real is not None and not _is_inside(real, [d.resolved for d in self._allowed()]):
                raise FileProblem("changed while it was being opened", refused=True)
            if stat.S_ISDIR(info.st_mode):
                raise FileProblem("is a directory, not an image file")
            if not stat.S_ISREG(info.st_mode):
                raise FileProblem("not a regular file")
            if max_bytes is not None and info.st_size > max_bytes:
                raise FileProblem(
                    f"{info.st_size:,} bytes, over {limit_label} of {max_bytes:,} bytes"
                )
            return os.fdopen(os.dup(fd), "rb")
        except OSError as error:
            raise _problem(error) from None
        finally:
            os.close(fd)

    def read(
        self, path: str, max_bytes: int | None = None, limit_label: str = "the limit"
    ) -> bytes:
        """The whole content of an allowed file (at most ``max_bytes``, called ``limit_label``
        in the error)."""
        with self.open(path, max_bytes, limit_label) as handle:
            try:
                data = handle.read() if max_bytes is None else handle.read(max_bytes + 1)
            except OSError as error:
                raise _problem(error) from None
        if max_bytes is not None and len(data) > max_bytes:
            raise FileProblem(f"over {limit_label} of {max_bytes:,} bytes")
        return data
