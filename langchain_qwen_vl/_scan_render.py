"""Scanned files -> page images: file type detection, PDF rendering, DPI choice.

Everything here that touches PDFium runs on **one** thread for the whole process
(:func:`pdfium_executor`): PDFium keeps global state and must never be entered from two
threads at once, even for two different documents. Multi-page image files (TIFF) are decoded
on the same thread, in page order, so a source object is only ever used from that thread.

DPI: the server resizes every image to at most ``max_pixels`` and throws the rest
away, so rendering above that wastes CPU and upload bytes, and rendering a scanned page above
the resolution of its own embedded image wastes tokens. :func:`choose_scale` renders directly
at the largest scale that fits the cap (≈164 DPI for A4 at the default 2,621,440 px), capped by
``max_dpi`` and by the page image's native resolution. A page that is one embedded JPEG
covering the page (what scanners write) is passed through without rendering at all.

The encoding of the pixels is in :mod:`langchain_qwen_vl._scan_encode`.
"""

from __future__ import annotations

import importlib
import io
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from langchain_qwen_vl._extras import install_hint
from langchain_qwen_vl._scan_errors import QwenVLScanInputError

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "PDF_INSTALL_HINT",
    "RawPage",
    "RenderSettings",
    "ScanSource",
    "choose_scale",
    "detect_kind",
    "open_source",
    "pdfium_executor",
]

PDF_INSTALL_HINT = install_hint("pdf")
POINTS_PER_INCH = 72.0
#: Page images smaller than this on either side are refused by the service (sides > 10 px).
MIN_SIDE = 11
#: A page whose only content is one image covering at least this share of it is a "scan".
_FULL_PAGE_SHARE = 0.97

FileKind = Literal["pdf", "jpeg", "png", "tiff", "webp", "bmp", "gif"]


@dataclass(frozen=True, slots=True)
class RenderSettings:
    """How pages become images; every field is part of the cache key."""

    max_pixels: int
    min_pixels: int
    dpi: float | None = None
    max_dpi: float = 300.0
    image_format: Literal["auto", "jpeg", "png"] = "auto"
    jpeg_quality: int = 85
    grayscale: bool | Literal["auto"] = "auto"
    passthrough: bool = True
    pdf_password: str | None = None

    def cache_fields(self) -> dict[str, Any]:
        """The fields that decide the pixels sent (the password only unlocks, so it is left out)."""
        return {
            "max_pixels": self.max_pixels,
            "min_pixels": self.min_pixels,
            "dpi": self.dpi,
            "max_dpi": self.max_dpi,
            "image_format": self.image_format,
            "jpeg_quality": self.jpeg_quality,
            "grayscale": self.grayscale,
            "passthrough": self.passthrough,
        }


@dataclass(slots=True)
class RawPage:
    """One page before encoding: either encoded bytes to pass through, or decoded pixels.

    ``width``/``height`` are the pixel size of ``image`` or of the ``jpeg`` bytes. ``dpi`` is
    the resolution the PDF page was rendered at (or its embedded scan has); None for images.
    ``render_cpu_s`` is the CPU time the render thread spent on this page.
    """

    index: int
    width: int
    height: int
    dpi: float | None
    image: Image.Image | None = None
    jpeg: bytes | None = None
    how: Literal["rendered", "passthrough", "decoded"] = "rendered"
    render_cpu_s: float = 0.0


# --- one thread for PDFium, process-wide -------------------------------------------------

_executor_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None


def pdfium_executor() -> ThreadPoolExecutor:
    """The single thread every PDFium call of this package runs on (created on first use)."""
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qwen-vl-pdfium")
        return _executor


def _pdfium() -> Any:
    try:
        # An optional extra without type information: imported by name, used as Any.
        pypdfium2 = importlib.import_module("pypdfium2")
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"Reading PDF files needs pypdfium2, an optional dependency: {PDF_INSTALL_HINT}"
        ) from exc
    return pypdfium2


# --- what kind of file is it -----------------------------------------------------------------


def detect_kind(head: bytes) -> FileKind | None:
    """The file type from its first bytes (the extension is not trusted), or None.

    Example:
        >>> detect_kind(b"%PDF-1.7"), detect_kind(b"\\x89PNG\\r\\n\\x1a\\n"), detect_kind(b"PK")
        ('pdf', 'png', None)
    """
    if b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:2] == b"BM":
        return "bmp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    return None


# --- DPI -------------------------------------------------------------------------------------


def choose_scale(
    width_pt: float,
    height_pt: float,
    *,
    max_pixels: int,
    dpi: float | None = None,
    max_dpi: float = 300.0,
    native_scale: float | None = None,
) -> float:
    """Pixels per PDF point to render a page at (DPI = 72 x scale).

    With ``dpi`` given, that. Otherwise the largest scale whose rendered size
    (``ceil(w*s) x ceil(h*s)``, as PDFium rounds) stays within ``max_pixels`` — so the server
    keeps every rendered pixel — but no more than ``max_dpi`` and, for a scanned page, no more
    than the resolution of its image (``native_scale``): upsampling adds tokens, not detail.

    Example:
        >>> round(72 * choose_scale(595.2, 841.92, max_pixels=2_621_440), 1)  # A4
        164.6
    """
    if width_pt <= 0 or height_pt <= 0:
        raise ValueError(f"page size must be positive, got {width_pt} x {height_pt} pt")
    if dpi is not None:
        return dpi / POINTS_PER_INCH

    def fits(scale: float) -> bool:
        return math.ceil(width_pt * scale) * math.ceil(height_pt * scale) <= max_pixels

    # The largest scale whose ceil()-rounded size fits: bisect below the exact root.
    low, high = 0.0, math.sqrt(max_pixels / (width_pt * height_pt))
    if fits(high):
        low = high
    for _ in range(60):
        if high - low < 1e-12:
            break
        middle = (low + high) / 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    scale = min(low, max_dpi / POINTS_PER_INCH)
    if native_scale is not None and native_scale <= scale:
        # 1e-9 below, so that ceil(width * scale) lands on the image's own pixel count.
        scale = native_scale * (1 - 1e-9)
    return scale


# --- sources --------------------------------------------------------------------------------


class ScanSource(Protocol):
    """A file opened for page images. Used only from :func:`pdfium_executor`'s thread."""

    kind: FileKind
    total_pages: int

    def load(self, index: int, settings: RenderSettings) -> RawPage:
        """Render or decode page ``index`` (0-based)."""

    def planned_size(self, index: int, settings: RenderSettings) -> tuple[int, int, float | None]:
        """(width, height, dpi) the page will be sent at, without rendering it."""

    def close(self) -> None:
        """Release the file."""


@dataclass(frozen=True, slots=True)
class _ScanImage:
    """The one embedded image of a scanned page, when it can be sent as it is."""

    jpeg: bytes | None  # None: the image is not a plain JPEG, so it is rendered
    width: int
    height: int
    native_scale: float


class PdfSource:
    """A PDF document, reopened every ``reopen_every`` pages to keep memory flat.

    PDFium caches decoded resources per open document (~0.5 MB per page rendered): a
    200-page scan would otherwise hold 100 MB until the end.
    """

    kind: FileKind = "pdf"

    def __init__(
        self,
        name: str,
        *,
        path: str | None = None,
        data: bytes | None = None,
        password: str | None = None,
        reopen_every: int = 32,
    ) -> None:
        self.name = name
        self._input: str | bytes = path if path is not None else (data or b"")
        self._password = password
        self._reopen_every = max(1, reopen_every)
        self._since_open = 0
        self._doc: Any = None
        self._open()
        self.total_pages = len(self._doc) if self._doc is not None else 0

    def _open(self) -> None:
        pdfium = _pdfium()
        try:
            self._doc = pdfium.PdfDocument(self._input, password=self._password)
        except pdfium.PdfiumError as exc:
            raise _open_error(self.name, exc) from exc
        self._since_open = 0

    def _document(self) -> Any:
        if self._doc is None or self._since_open >= self._reopen_every:
            self.close()
            self._open()
        self._since_open += 1
        return self._doc

    def close(self) -> None:
        if self._doc is not None:
            self._doc.close()
            self._doc = None

    def _page(self, index: int) -> Any:
        try:
            return self._document()[index]
        except Exception as exc:
            raise QwenVLScanInputError(
                f"{self.name}: page {index} cannot be loaded ({exc}).", source=self.name, page=index
            ) from exc

    def _scan_image(self, page: Any, width_pt: float, height_pt: float) -> _ScanImage | None:
        """The page's single full-page image, if that is all the page holds."""
        pdfium = _pdfium()
        raw = pdfium.raw
        if page.get_rotation() != 0:
            return None
        objects = list(page.get_objects(max_depth=1))
        if len(objects) != 1 or objects[0].type != raw.FPDF_PAGEOBJ_IMAGE:
            return None
        image = objects[0]
        left, bottom, right, top = image.get_bounds()
        matrix = image.get_matrix()
        if matrix.b != 0 or matrix.c != 0 or matrix.a <= 0 or matrix.d <= 0:
            return None  # rotated or mirrored placement: let PDFium draw it
        if (right - left) * (top - bottom) < _FULL_PAGE_SHARE * width_pt * height_pt:
            return None
        px_w, px_h = image.get_px_size()
        native = min(px_w / width_pt, px_h / height_pt)
        plain_jpeg = image.get_filters() == ["DCTDecode"] and image.get_metadata().colorspace in (
            raw.FPDF_COLORSPACE_DEVICEGRAY,
            raw.FPDF_COLORSPACE_DEVICERGB,
        )
        data = bytes(image.get_data(decode_simple=False)) if plain_jpeg else None
        if data is not None and not data.startswith(b"\xff\xd8"):
            data = None
        return _ScanImage(data, px_w, px_h, native)

    def planned_size(self, index: int, settings: RenderSettings) -> tuple[int, int, float | None]:
        page = self._page(index)
        try:
            width_pt, height_pt = page.get_size()
            scan = self._scan_image(page, width_pt, height_pt)
        finally:
            page.close()
        scale = _render_scale(width_pt, height_pt, scan, settings)
        if scale is None:
            assert scan is not None  # None: the scan's JPEG is sent as it is
            return scan.width, scan.height, round(scan.native_scale * POINTS_PER_INCH, 1)
        size = (math.ceil(width_pt * scale), math.ceil(height_pt * scale))
        return size[0], size[1], round(scale * POINTS_PER_INCH, 1)

    def load(self, index: int, settings: RenderSettings) -> RawPage:
        started = _cpu()
        page = self._page(index)
        try:
            width_pt, height_pt = page.get_size()
            if width_pt <= 0 or height_pt <= 0:
                raise QwenVLScanInputError(
                    f"{self.name}: page {index} has no area ({width_pt} x {height_pt} pt).",
                    source=self.name,
                    page=index,
                )
            scan = self._scan_image(page, width_pt, height_pt)
            dpi_native = round(scan.native_scale * POINTS_PER_INCH, 1) if scan else None
            scale = _render_scale(width_pt, height_pt, scan, settings)
            if scale is None:
                assert scan is not None  # None: the scan's JPEG is sent as it is
                return RawPage(
                    index, scan.width, scan.height, dpi_native, jpeg=scan.jpeg,
                    how="passthrough", render_cpu_s=_cpu() - started,
                )  # fmt: skip
            try:
                bitmap = page.render(scale=scale, rev_byteorder=True)
                image = bitmap.to_pil()
                bitmap.close()
            except Exception as exc:
                raise QwenVLScanInputError(
                    f"{self.name}: page {index} failed to render ({exc}).",
                    source=self.name,
                    page=index,
                ) from exc
        finally:
            page.close()
        return RawPage(
            index, image.width, image.height, round(scale * POINTS_PER_INCH, 1), image=image,
            how="rendered", render_cpu_s=_cpu() - started,
        )  # fmt: skip


def _render_scale(
    width_pt: float, height_pt: float, scan: _ScanImage | None, settings: RenderSettings
) -> float | None:
    """The PDFium render scale for a page, or None when its embedded JPEG is sent as it is."""
    if settings.dpi is None and settings.passthrough and scan is not None and scan.jpeg:
        return None
    return choose_scale(
        width_pt,
        height_pt,
        max_pixels=settings.max_pixels,
        dpi=settings.dpi,
        max_dpi=settings.max_dpi,
        native_scale=scan.native_scale if scan else None,
    )


def _open_error(name: str, exc: Exception) -> QwenVLScanInputError:
    raw = _pdfium().raw
    code = getattr(exc, "err_code", None)
    if code == raw.FPDF_ERR_PASSWORD:
        reason = "is encrypted (password-protected) — pass pdf_password=... or decrypt it first"
    elif code == raw.FPDF_ERR_SECURITY:
        reason = "uses an unsupported security handler — decrypt it first"
    elif code == raw.FPDF_ERR_FORMAT:
        reason = "is corrupt or not a valid PDF (PDFium: data format error)"
    elif code == raw.FPDF_ERR_FILE:
        reason = "cannot be opened (not found or unreadable)"
    else:
        reason = f"cannot be opened ({exc})"
    return QwenVLScanInputError(f"{name}: PDF file {reason}.", source=name)


class ImageFileSource:
    """An image file: one page, or one page per frame (multi-page TIFF, animated WEBP/GIF)."""

    def __init__(self, name: str, kind: FileKind, data: bytes) -> None:
        from PIL import Image, UnidentifiedImageError

        self.name = name
        self.kind = kind
        self._data = data
        try:
            self._image = Image.open(io.BytesIO(data))
            self.total_pages = int(getattr(self._image, "n_frames", 1))
            self._image.size  # noqa: B018 - forces the header to be parsed now
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
            raise QwenVLScanInputError(
                f"{name}: {kind.upper()} image cannot be decoded ({exc}) — the file is corrupt "
                "or truncated.",
                source=name,
            ) from exc

    def _frame(self, index: int) -> Image.Image:
        from PIL import ImageOps

        try:
            self._image.seek(index)
            frame = self._image.copy() if self.total_pages > 1 else self._image
            frame.load()
            transposed = ImageOps.exif_transpose(frame)
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            raise QwenVLScanInputError(
                f"{self.name}: page {index} of the {self.kind.upper()} image cannot be decoded "
                f"({exc}).",
                source=self.name,
                page=index,
            ) from exc
        return transposed if transposed is not None else frame

    def _orientation(self) -> int:
        try:
            return int(self._image.getexif().get(0x0112, 1))
        except Exception:
            return 1

    def planned_size(self, index: int, settings: RenderSettings) -> tuple[int, int, float | None]:
        if self.total_pages > 1:
            self._image.seek(index)
        width, height = self._image.size
        if self._orientation() in (5, 6, 7, 8):
            width, height = height, width
        return width, height, None

    def load(self, index: int, settings: RenderSettings) -> RawPage:
        started = _cpu()
        if self.kind == "jpeg" and self._orientation() == 1 and settings.passthrough:
            width, height = self._image.size
            return RawPage(
                index, width, height, None, jpeg=self._data, how="passthrough",
                render_cpu_s=_cpu() - started,
            )  # fmt: skip
        frame = self._frame(index)
        return RawPage(
            index, frame.width, frame.height, None, image=frame, how="decoded",
            render_cpu_s=_cpu() - started,
        )  # fmt: skip

    def close(self) -> None:
        self._image.close()


def _cpu() -> float:
    import time

    return time.thread_time()


def open_source(
    name: str,
    *,
    path: str | os.PathLike[str] | None = None,
    data: bytes | None = None,
    password: str | None = None,
    reopen_every: int = 32,
) -> ScanSource:
    """Open a file or bytes as a page source, or raise :class:`QwenVLScanInputError`.

    Must run on :func:`pdfium_executor`'s thread (it may call PDFium).
    """
    if data is None:
        if path is None:
            raise QwenVLScanInputError(f"{name}: a blob with neither data nor path.", source=name)
        try:
            with open(path, "rb") as fh:
                head = fh.read(1024)
        except FileNotFoundError:
            raise QwenVLScanInputError(f"{name}: no such file.", source=name) from None
        except OSError as exc:
            raise QwenVLScanInputError(
                f"{name}: file cannot be read ({exc.strerror or exc}).", source=name
            ) from exc
    else:
        head = data[:1024]
    if not head:
        raise QwenVLScanInputError(f"{name}: the file is empty (0 bytes).", source=name)
    kind = detect_kind(head)
    if kind is None:
        raise QwenVLScanInputError(
            f"{name}: unsupported file type (starts with {head[:8]!r}) — pass a PDF or an image "
            "(PNG, JPEG, TIFF, WEBP, BMP, GIF).",
            source=name,
        )
    if kind == "pdf":
        source = PdfSource(
            name,
            path=None if data is not None else os.fspath(path),  # type: ignore[arg-type]
            data=data,
            password=password,
            reopen_every=reopen_every,
        )
    else:
        if data is None:
            with open(path, "rb") as fh:  # type: ignore[arg-type]
                data = fh.read()
        source = ImageFileSource(name, kind, data)  # type: ignore[assignment]
    if source.total_pages == 0:
        source.close()
        raise QwenVLScanInputError(f"{name}: the {kind.upper()} file has no pages.", source=name)
    return source
