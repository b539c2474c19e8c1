"""Generate a realistic scanned PDF: pages drawn with Pillow, "scanned", saved image-only.

The bundled ``examples/assets/scanned_report.pdf`` is made by this script (4 pages: a text page,
a table, findings with a red approval stamp, a cost table). Each page is drawn as an A4 image,
given the marks of a flatbed scan (a slight skew, a paper tint, sensor noise, a soft blur) and
written with Pillow as one JPEG per page: the PDF has **no text layer**, exactly like a scanner's
output, so only a vision model can read it.

    python scripts/make_scanned_pdf.py                        # the bundled example
    python scripts/make_scanned_pdf.py --pages 200 --out /tmp/long.pdf   # for bench/

The drawing functions are importable (``bench/bench_scans.py`` uses :func:`write_scanned_pdf`).
Output is deterministic for a given Pillow version (seeded noise, fixed fonts).
"""

from __future__ import annotations

import argparse
import io
import random
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

A4_INCHES = (8.27, 11.69)
DEFAULT_DPI = 150
DEFAULT_QUALITY = 70
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "examples" / "assets" / "scanned_report.pdf"

FontLike = ImageFont.FreeTypeFont | ImageFont.ImageFont

_FONT_FILES = {
    "regular": ("DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    "bold": ("DejaVuSans-Bold.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    "serif": ("DejaVuSerif.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"),
}


def font(kind: str, size: int) -> FontLike:
    """A TrueType font if one is installed, else Pillow's bundled scalable default."""
    for candidate in _FONT_FILES[kind]:
        try:
            return ImageFont.truetype(candidate, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


class Page:
    """A blank A4 page at ``dpi`` with a cursor, drawing in points (1/72 in) for readability."""

    def __init__(self, dpi: int) -> None:
        self.dpi = dpi
        size = (round(A4_INCHES[0] * dpi), round(A4_INCHES[1] * dpi))
        self.image = Image.new("RGB", size, "white")
        self.draw = ImageDraw.Draw(self.image)
        self.y = self.px(60)

    def px(self, points: float) -> int:
        return round(points * self.dpi / 72)

    def text(self, content: str, *, size: int = 11, kind: str = "regular", x: float = 60) -> None:
        face = font(kind, self.px(size))
        self.draw.text((self.px(x), self.y), content, fill=(20, 20, 20), font=face)
        self.y += self.px(size * 1.45)

    def paragraph(self, content: str, *, size: int = 11, width_chars: int = 88) -> None:
        words, line = content.split(), ""
        for word in words:
            if len(line) + len(word) + 1 > width_chars:
                self.text(line, size=size)
                line = word
            else:
                line = f"{line} {word}".strip()
        if line:
            self.text(line, size=size)
        self.y += self.px(6)

    def table(
        self, header: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[float]
    ) -> None:
        x0, row_h = 60.0, 20.0
        face, bold = font("regular", self.px(10)), font("bold", self.px(10))
        total = sum(widths)
        for r, row in enumerate([header, *rows]):
            top = self.y
            if r == 0:
                self.draw.rectangle(
                    (self.px(x0), top, self.px(x0 + total), top + self.px(row_h)),
                    fill=(225, 225, 225),
                )
            x = x0
            for cell, width in zip(row, widths, strict=True):
                self.draw.rectangle(
                    (self.px(x), top, self.px(x + width), top + self.px(row_h)),
                    outline=(30, 30, 30),
                    width=max(1, self.px(0.8)),
                )
                self.draw.text(
                    (self.px(x + 4), top + self.px(5)),
                    cell,
                    fill=(20, 20, 20),
                    font=bold if r == 0 else face,
                )
                x += width
            self.y = top + self.px(row_h)
        self.y += self.px(14)

    def footer(self, number: int, total: int) -> None:
        face = font("regular", self.px(9))
        label = f"HS-2025-Q3-017  ·  Page {number} of {total}"
        self.draw.text((self.px(230), self.px(800)), label, fill="#3c3c3c", font=face)


def stamp(dpi: int) -> Image.Image:
    """A red, slightly rotated rubber stamp: double border, APPROVED, date, department."""
    scale = dpi / 72
    w, h = round(170 * scale), round(78 * scale)
    layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    red = (196, 30, 36, 225)
    draw.rounded_rectangle(
        (2, 2, w - 3, h - 3), radius=round(8 * scale), outline=red, width=round(3 * scale)
    )
    inset = round(6 * scale)
    draw.rounded_rectangle(
        (inset, inset, w - inset, h - inset),
        radius=round(6 * scale),
        outline=red,
        width=round(1 * scale),
    )
    draw.text(
        (w / 2, h * 0.38), "APPROVED", fill=red, font=font("bold", round(24 * scale)), anchor="mm"
    )
    draw.text(
        (w / 2, h * 0.72),
        "QA DEPT · 2025-10-14",
        fill=red,
        font=font("bold", round(10 * scale)),
        anchor="mm",
    )
    return layer.rotate(-9, resample=Image.Resampling.BICUBIC, expand=True)


def cover_page(dpi: int) -> Page:
    page = Page(dpi)
    page.text("Harbor Street Water Treatment Plant", size=18, kind="bold")
    page.text("Quarterly Inspection Report — Q3 2025", size=14, kind="bold")
    page.y += page.px(8)
    for line in (
        "Report no.: HS-2025-Q3-017",
        "Inspection dates: 2 – 19 September 2025",
        "Lead inspector: Dana Whitfield, P.E.",
        "Prepared for: Municipal Utilities Board",
    ):
        page.text(line)
    page.y += page.px(10)
    page.text("1. Summary", size=13, kind="bold")
    page.paragraph(
        "The plant operated within its permit limits for the whole quarter. Average daily flow was "
        "41.2 million litres, 6 percent above Q2 because of the dry August. Filter bed 3 was taken "
        "out of service on 11 September for media replacement and returned on 16 September."
    )
    page.paragraph(
        "Two findings require action before the next quarterly inspection: the chlorine contact "
        "tank baffle shows surface corrosion, and the backup generator failed its monthly load "
        "test once (on 4 September) before passing on the retest."
    )
    page.text("2. Scope", size=13, kind="bold")
    page.paragraph(
        "The inspection covered intake screens, coagulation and flocculation basins, the four "
        "rapid sand filters, disinfection, the clear well, the laboratory and emergency power. "
        "Measurements on page 2 were taken by the plant laboratory and verified by the inspector."
    )
    return page


def results_page(dpi: int) -> Page:
    page = Page(dpi)
    page.text("3. Inspection results", size=13, kind="bold")
    page.paragraph("Measured values are quarterly averages; limits are those of permit WT-4471.")
    page.table(
        ["Unit", "Parameter", "Measured", "Limit", "Status"],
        [
            ["Intake", "Turbidity (NTU)", "3.8", "-", "Info"],
            ["Filter bed 1", "Turbidity (NTU)", "0.12", "0.30", "Pass"],
            ["Filter bed 2", "Turbidity (NTU)", "0.15", "0.30", "Pass"],
            ["Filter bed 3", "Turbidity (NTU)", "0.27", "0.30", "Watch"],
            ["Filter bed 4", "Turbidity (NTU)", "0.11", "0.30", "Pass"],
            ["Clear well", "Free chlorine (mg/L)", "1.6", "0.2 - 4.0", "Pass"],
            ["Clear well", "pH", "7.4", "6.5 - 8.5", "Pass"],
            ["Distribution", "Total coliform", "0 / 120", "< 5 %", "Pass"],
            ["Generator", "Load test", "1 fail, 2 pass", "monthly", "Action"],
        ],
        [90, 130, 90, 80, 70],
    )
    page.paragraph(
        "Filter bed 3 is marked Watch: its turbidity was close to the limit in the two weeks "
        "before the media replacement and has been 0.10 NTU since."
    )
    return page


def findings_page(dpi: int) -> Page:
    page = Page(dpi)
    page.text("4. Findings and corrective actions", size=13, kind="bold")
    page.paragraph(
        "F-1 Chlorine contact tank: surface corrosion on the second baffle, about 2 square metres. "
        "Action: blast and recoat during the November shutdown. Owner: maintenance supervisor. "
        "Due: 30 November 2025."
    )
    page.paragraph(
        "F-2 Backup generator: failed the 4 September load test because of a clogged fuel filter. "
        "The filter was replaced the same day and the retest passed. Action: move the fuel filter "
        "change from yearly to every six months. Owner: electrical lead. Due: 31 October 2025."
    )
    page.text("5. Conclusion", size=13, kind="bold")
    page.paragraph(
        "The plant is in good condition and compliant. The report is approved subject to the two "
        "corrective actions above, to be verified at the Q4 inspection."
    )
    page.y += page.px(40)
    page.text("Inspector: Dana Whitfield, P.E.            Date: 14 October 2025")
    page.draw.line(
        (page.px(60), page.y + page.px(18), page.px(250), page.y + page.px(18)),
        fill=(30, 30, 60),
        width=page.px(1.2),
    )
    mark = stamp(dpi)
    page.image.paste(mark, (page.px(345), page.y - page.px(4)), mark)
    return page


def costs_page(dpi: int) -> Page:
    page = Page(dpi)
    page.text("6. Maintenance costs this quarter", size=13, kind="bold")
    page.table(
        ["Item", "Work order", "Cost (USD)"],
        [
            ["Filter bed 3 media replacement", "WO-8812", "48,600"],
            ["Generator fuel filter and retest", "WO-8790", "1,240"],
            ["Intake screen cleaning (2x)", "WO-8754", "3,150"],
            ["Laboratory reagents", "PO-3321", "2,875"],
            ["Total", "", "55,865"],
        ],
        [230, 110, 120],
    )
    page.paragraph(
        "Costs are within the approved quarterly maintenance budget of USD 60,000. The baffle "
        "recoating (F-1) is budgeted separately for Q4 at an estimated USD 22,000."
    )
    return page


TEMPLATES = (cover_page, results_page, findings_page, costs_page)


def scan_effect(image: Image.Image, seed: int) -> Image.Image:
    """Make a clean drawing look like a flatbed scan: skew, paper tint, sensor noise, blur."""
    rng = random.Random(seed)
    angle = rng.uniform(-0.6, 0.6)
    skewed = image.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=(255, 255, 255))
    paper = Image.new("RGB", image.size, (246, 244, 238))
    toned = Image.blend(skewed, paper, 0.04)
    noise = Image.effect_noise((image.width // 2, image.height // 2), 10).resize(image.size)
    noisy = Image.composite(
        toned, Image.merge("RGB", (noise, noise, noise)), Image.new("L", image.size, 242)
    )
    return noisy.filter(ImageFilter.GaussianBlur(0.5))


def scanned_pages(count: int, *, dpi: int = DEFAULT_DPI) -> Iterator[Image.Image]:
    """``count`` scanned-looking pages, cycling through the four templates, one at a time.

    Each template is drawn and "scanned" once; later copies only get their own footer, so a
    200-page document takes seconds and never holds more than the templates in memory.
    """
    templates: dict[int, Image.Image] = {}
    for index in range(count):
        kind = index % len(TEMPLATES)
        if kind not in templates:
            page = TEMPLATES[kind](dpi)
            scanned = scan_effect(page.image, seed=kind)
            # Pages with no colour are stored grey, as scanners do in "auto colour" mode.
            templates[kind] = scanned if kind == 2 else scanned.convert("L")
        image = templates[kind].copy()
        footer = Page(dpi)
        footer.image, footer.draw = image, ImageDraw.Draw(image)
        footer.footer(index + 1, count)
        yield image


def write_jpeg_pdf(path: Path, jpegs: Iterable[tuple[bytes, int, int, str]], *, dpi: float) -> int:
    """Write an image-only PDF, one JPEG per page, streaming: what a scanner produces.

    ``jpegs`` yields (JPEG bytes, width px, height px, "L" or "RGB"). Returns the page count.
    """
    offsets: list[int] = []
    page_ids: list[int] = []
    with open(path, "wb") as out:
        out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")

        def obj(number: int, body: bytes, stream: bytes | None = None) -> None:
            while len(offsets) < number:
                offsets.append(0)
            offsets[number - 1] = out.tell()
            out.write(b"%d 0 obj\n" % number + body)
            if stream is not None:
                out.write(b"\nstream\n" + stream + b"\nendstream")
            out.write(b"\nendobj\n")

        next_id = 3  # 1: catalog, 2: page tree (written last)
        for data, width, height, mode in jpegs:
            image_id, content_id, page_id = next_id, next_id + 1, next_id + 2
            next_id += 3
            space = b"/DeviceGray" if mode == "L" else b"/DeviceRGB"
            obj(
                image_id,
                b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace %s "
                b"/BitsPerComponent 8 /Filter /DCTDecode /Length %d >>"
                % (width, height, space, len(data)),
                data,
            )
            w_pt, h_pt = width * 72 / dpi, height * 72 / dpi
            content = b"q %.4f 0 0 %.4f 0 0 cm /Im0 Do Q" % (w_pt, h_pt)
            obj(content_id, b"<< /Length %d >>" % len(content), content)
            obj(
                page_id,
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.4f %.4f] "
                b"/Resources << /XObject << /Im0 %d 0 R >> >> /Contents %d 0 R >>"
                % (w_pt, h_pt, image_id, content_id),
            )
            page_ids.append(page_id)
        kids = b" ".join(b"%d 0 R" % pid for pid in page_ids)
        obj(1, b"<< /Type /Catalog /Pages 2 0 R >>")
        obj(2, b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(page_ids)))
        xref = out.tell()
        out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1))
        for offset in offsets:
            out.write(b"%010d 00000 n \n" % offset)
        out.write(
            b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
            % (len(offsets) + 1, xref)
        )
    return len(page_ids)


def write_scanned_pdf(
    path: Path, count: int = 4, *, dpi: int = DEFAULT_DPI, quality: int = DEFAULT_QUALITY
) -> Path:
    """Write an image-only PDF of ``count`` scanned pages (one embedded JPEG per page)."""

    def encoded() -> Iterator[tuple[bytes, int, int, str]]:
        for image in scanned_pages(count, dpi=dpi):
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=quality)
            yield buffer.getvalue(), image.width, image.height, image.mode

    path.parent.mkdir(parents=True, exist_ok=True)
    write_jpeg_pdf(path, encoded(), dpi=dpi)
    return path


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--pages", type=int, default=4)
    parser.add_argument("--dpi", type=int, default=DEFAULT_DPI)
    parser.add_argument("--quality", type=int, default=DEFAULT_QUALITY)
    args = parser.parse_args(argv)
    out = write_scanned_pdf(args.out, args.pages, dpi=args.dpi, quality=args.quality)
    print(
        f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB, {args.pages} pages at {args.dpi} DPI)"
    )


if __name__ == "__main__":
    main()
