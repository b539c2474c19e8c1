"""Generate the demo images in ``examples/assets/`` (deterministic, Pillow only).

    python scripts/make_assets.py            # writes examples/assets/*
    python scripts/make_assets.py --check    # exit 1 if the files are missing or too big

The images are small but real: a photo-like scene with one object whose position is known
(for grounding demos and the emulator), a bar chart (reading values off a plot), and a
scanned-looking text page (OCR / document loader). Their ground truth is printed and kept in
``examples/assets/README.md``.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

ASSETS = Path(__file__).resolve().parent.parent / "examples" / "assets"
MAX_TOTAL_BYTES = 200 * 1024

# Ground truth, in pixels of the image: (x1, y1, x2, y2).
SCENE_SIZE = (640, 480)
RED_SQUARE_BOX = (368, 176, 496, 304)
CHART_SIZE = (800, 500)
CHART_VALUES = {"Q1": 12, "Q2": 19, "Q3": 7, "Q4": 15}
DOCUMENT_SIZE = (600, 780)
# Rows of (text, column) for column x positions DOCUMENT_COLUMNS (a proportional font
# cannot align columns with spaces).
DOCUMENT_COLUMNS = (50, 330, 420)
DOCUMENT_ROWS: tuple[tuple[tuple[str, int], ...], ...] = (
    (("INVOICE  No. 2026-0142", 0),),
    (("Date: 2026-01-22", 0),),
    (("Bill to: Example Robotics Ltd.", 0),),
    (),
    (("Item", 0), ("Qty", 1), ("Amount", 2)),
    (("Servo motor SG-90", 0), ("4", 1), ("36.00", 2)),
    (("Camera module v3", 0), ("1", 1), ("25.00", 2)),
    (("Shipping", 0), ("1", 1), ("8.50", 2)),
    (),
    (("TOTAL (USD)", 0), ("69.50", 2)),
)


def _grain(size: tuple[int, int], sigma: float) -> Image.Image:
    return Image.merge("RGB", [Image.effect_noise(size, sigma) for _ in range(3)])


def make_scene() -> Image.Image:
    """A blue backdrop with soft light falloff and grain, and a red square on it."""
    width, height = SCENE_SIZE
    falloff = Image.radial_gradient("L").resize((width, height))  # 0 at centre, 255 at edges
    blue = Image.merge(
        "RGB",
        (
            falloff.point(lambda v: 40 - v // 10),
            falloff.point(lambda v: 90 - v // 6),
            falloff.point(lambda v: 200 - v // 3),
        ),
    )
    draw = ImageDraw.Draw(blue)
    x1, y1, x2, y2 = RED_SQUARE_BOX
    draw.rectangle((x1 + 6, y1 + 8, x2 + 6, y2 + 8), fill=(20, 40, 110))  # soft shadow
    blue = blue.filter(ImageFilter.GaussianBlur(4))
    draw = ImageDraw.Draw(blue)
    draw.rectangle(RED_SQUARE_BOX, fill=(215, 30, 35))
    draw.rectangle((x1, y1, x2, y1 + 10), fill=(235, 70, 70))  # lit top edge
    return ImageChops.add(blue, _grain(SCENE_SIZE, 6), offset=-128)


def make_chart() -> Image.Image:
    """A labelled bar chart of CHART_VALUES on a white background."""
    width, height = CHART_SIZE
    chart = Image.new("RGB", CHART_SIZE, "white")
    draw = ImageDraw.Draw(chart)
    font = ImageFont.load_default(size=20)
    small = ImageFont.load_default(size=16)
    left, bottom, top = 80, height - 60, 60
    draw.text((width // 2, 20), "Units sold per quarter", fill="black", font=font, anchor="mt")
    draw.line((left, top, left, bottom), fill="black", width=2)
    draw.line((left, bottom, width - 30, bottom), fill="black", width=2)
    scale = (bottom - top) / 20
    for tick in range(0, 21, 5):
        y = bottom - tick * scale
        draw.line((left - 6, y, left, y), fill="black", width=2)
        draw.text((left - 10, y), str(tick), fill="black", font=small, anchor="rm")
    colours = ["#4C72B0", "#DD8452", "#55A868", "#C44E52"]
    slot = (width - 30 - left) / len(CHART_VALUES)
    for i, (label, value) in enumerate(CHART_VALUES.items()):
        x1 = left + i * slot + slot * 0.2
        x2 = left + (i + 1) * slot - slot * 0.2
        draw.rectangle((x1, bottom - value * scale, x2, bottom - 1), fill=colours[i])
        draw.text(((x1 + x2) / 2, bottom + 10), label, fill="black", font=small, anchor="mt")
        draw.text(
            ((x1 + x2) / 2, bottom - value * scale - 6), str(value), fill="black", font=small,
            anchor="mb",
        )  # fmt: skip
    return chart


def make_document() -> Image.Image:
    """A slightly grey, slightly rotated text page, like a phone scan."""
    page = Image.new("L", DOCUMENT_SIZE, 245)
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=20)
    for i, row in enumerate(DOCUMENT_ROWS):
        for text, column in row:
            draw.text((DOCUMENT_COLUMNS[column], 60 + i * 40), text, fill=25, font=font)
    rng = random.Random(3)
    for _ in range(400):  # paper specks
        x, y = rng.randrange(DOCUMENT_SIZE[0]), rng.randrange(DOCUMENT_SIZE[1])
        draw.point((x, y), fill=rng.randrange(150, 220))
    return page.rotate(0.8, resample=Image.Resampling.BICUBIC, fillcolor=245)


def write_assets(directory: Path = ASSETS) -> dict[str, int]:
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    outputs = (
        ("scene.jpg", make_scene(), {"quality": 88}),
        ("chart.png", make_chart().quantize(64), {"optimize": True}),
        ("document.png", make_document().quantize(16), {"optimize": True}),
    )
    for name, image, options in outputs:
        path = directory / name
        image.save(path, **options)
        written[name] = path.stat().st_size
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check the files exist")
    args = parser.parse_args()
    names = ("scene.jpg", "chart.png", "document.png")
    if args.check:
        missing = [n for n in names if not (ASSETS / n).exists()]
        total = sum((ASSETS / n).stat().st_size for n in names if (ASSETS / n).exists())
        print(f"missing: {missing or 'none'}; total {total:,} bytes")
        return 1 if missing or total > MAX_TOTAL_BYTES else 0
    sizes = write_assets()
    for name, size in sizes.items():
        print(f"{ASSETS / name}: {size:,} bytes")
    total = sum(sizes.values())
    print(f"total {total:,} bytes (limit {MAX_TOTAL_BYTES:,})")
    print(f"scene.jpg {SCENE_SIZE}: red square at {RED_SQUARE_BOX} (x1, y1, x2, y2)")
    print(f"chart.png {CHART_SIZE}: values {CHART_VALUES}")
    print(f"document.png {DOCUMENT_SIZE}: total 69.50 USD")
    return 0 if total <= MAX_TOTAL_BYTES else 1


if __name__ == "__main__":
    sys.exit(main())
