"""The errors of the scan loader: a file or page that cannot be read, and the end-of-run report."""

from __future__ import annotations

from dataclasses import dataclass

from langchain_qwen_vl.errors import QwenVLError, QwenVLInputError

__all__ = ["QwenVLScanError", "QwenVLScanInputError", "ScanFailure"]


class QwenVLScanInputError(QwenVLInputError):
    """A file or page that cannot be turned into a page image (nothing was sent).

    ``source`` names the file (path or blob source) and ``page`` the 0-based page, or None when
    the whole file is unusable (empty, encrypted, corrupt, not a PDF or image).
    """

    def __init__(self, message: str, *, source: str, page: int | None = None) -> None:
        super().__init__(message)
        self.source = source
        self.page = page


@dataclass(frozen=True, slots=True)
class ScanFailure:
    """One file or page that produced no text: where, and the exception."""

    source: str
    page: int | None
    error: BaseException

    def __str__(self) -> str:
        return str(self.error)


class QwenVLScanError(QwenVLError):
    """Raised at the end of a run with ``on_error="raise"`` when files or pages failed.

    Every other page was still processed (and cached); ``failures`` lists what failed.
    """

    def __init__(self, failures: list[ScanFailure]) -> None:
        lines = "\n".join(f"  - {failure}" for failure in failures[:20])
        more = f"\n  … and {len(failures) - 20} more" if len(failures) > 20 else ""
        super().__init__(f"{len(failures)} scanned page(s) or file(s) failed:\n{lines}{more}")
        self.failures = failures
