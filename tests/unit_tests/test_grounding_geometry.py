"""Pixel conversion in both conventions, 3D projection against hand-computed corners, draw, crop."""

from __future__ import annotations

import io
import math

import pytest
from PIL import Image
from pydantic import ValidationError

from langchain_qwen_vl.grounding import (
    Box2D,
    Box3D,
    Intrinsics,
    Point2D,
    coordinates_for_model,
    crop_region,
    draw,
    label_colour,
    qwen25_resized_dimensions,
)

# --- relative_1000 (Qwen3-VL) ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "box", "pixels"),
    [
        ((640, 480), (0, 0, 1000, 1000), (0.0, 0.0, 640.0, 480.0)),
        ((1920, 1080), (250, 500, 750, 1000), (480.0, 540.0, 1440.0, 1080.0)),
        ((300, 900), (0, 999, 1000, 1000), (0.0, 899.1, 300.0, 900.0)),  # 0–999 docs
    ],
)
def test_relative_corners_on_non_square_pictures(
    size: tuple[int, int], box: tuple[int, int, int, int], pixels: tuple[float, ...]
) -> None:
    x1, y1, x2, y2 = box
    result = Box2D(label="t", x1=x1, y1=y1, x2=x2, y2=y2).to_pixels(*size)
    assert result == pytest.approx(pixels)


def test_point_and_remembered_size() -> None:
    point = Point2D(label="p", x=500, y=250, image_size=(800, 600))
    assert point.to_pixels() == (400.0, 150.0)
    assert point.to_pixels(100, 100) == (50.0, 25.0)
    with pytest.raises(ValueError, match="original image size is unknown"):
        Point2D(label="p", x=1, y=2).to_pixels()


def test_out_of_range_is_clipped_and_swapped_corners_are_ordered() -> None:
    box = Box2D(label="t", x1=1200, y1=-5, x2=400, y2=300)
    assert (box.x1, box.y1, box.x2, box.y2) == (400, 0, 1000, 300)
    assert Point2D(label="p", x=-3, y=1001).to_pixels(10, 10) == (0.0, 10.0)


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValidationError, match="image_size"):
        Box2D(label="t", x1=0, y1=0, x2=1, y2=1, image_size=(0, 10))
    with pytest.raises(ValueError, match="positive integers"):
        Box2D(label="t", x1=0, y1=0, x2=1, y2=1).to_pixels(640, -1)


# --- absolute_resized (Qwen2.5-VL) ---------------------------------------------------------


def test_qwen25_grid_rule_hand_computed() -> None:
    # 480/28 = 17.1 -> 17·28 = 476; 640/28 = 22.9 -> 23·28 = 644 (under the cap).
    assert qwen25_resized_dimensions(480, 640) == (476, 644)
    # 3000×4000 is over the 1,003,520 px default: β = sqrt(12e6 / 1003520) = 3.458,
    # 3000/β/28 = 30.98 -> 840; 4000/β/28 = 41.31 -> 1148.
    assert qwen25_resized_dimensions(3000, 4000) == (840, 1148)
    # Tiny: 20×20 is under 4·28·28 px: β = sqrt(3136/400) = 2.8 -> 56×56.
    assert qwen25_resized_dimensions(20, 20) == (56, 56)


def test_absolute_with_known_frame_maps_to_the_original() -> None:
    # The model saw 644×476 (the 28-grid of a 640×480 upload).
    frame = {"coordinates": "absolute_resized", "frame_size": (644, 476)}
    box = Box2D(label="t", x1=0, y1=0, x2=644, y2=476, **frame)  # type: ignore[arg-type]
    assert box.to_pixels(640, 480) == pytest.approx((0, 0, 640, 480))
    mid = Point2D(label="p", x=322, y=238, **frame)  # type: ignore[arg-type]
    assert mid.to_pixels(640, 480) == pytest.approx((320, 240))
    # Beyond the frame: clipped to its edge, never wrapped.
    far = Point2D(label="p", x=900, y=-4, **frame)  # type: ignore[arg-type]
    assert far.to_pixels(640, 480) == pytest.approx((640, 0))


def test_absolute_without_frame_uses_the_grid_of_the_given_size() -> None:
    # 4000×3000 picture given by URL: the model saw 1148×840 (see the grid test above).
    box = Box2D(label="t", x1=287, y1=210, x2=1148, y2=840, coordinates="absolute_resized")
    assert box.to_pixels(4000, 3000) == pytest.approx((1000, 750, 4000, 3000))


def test_family_picks_the_convention() -> None:
    assert coordinates_for_model("qwen3-vl-flash") == "relative_1000"
    assert coordinates_for_model("qwen2-vl-7b-instruct") == "relative_1000"
    assert coordinates_for_model("Qwen2.5-VL-7B-Instruct") == "absolute_resized"
    assert coordinates_for_model("qwen2_5_vl") == "absolute_resized"


# --- 3D ---------------------------------------------------------------------------------------

CAMERA = (100.0, 100.0, 50.0, 50.0)  # fx, fy, cx, cy


def test_unrotated_cube_corners() -> None:
    cube = Box3D(label="c", x=0, y=0, z=5, x_size=2, y_size=2, z_size=2)
    corners = cube.project(intrinsics=CAMERA)
    assert len(corners) == 8
    assert corners[0] == pytest.approx((50 + 100 / 6, 50 + 100 / 6))  # (+1, +1, 6)
    assert corners[1] == pytest.approx((75, 75))  # (+1, +1, 4)
    assert corners[7] == pytest.approx((25, 25))  # (-1, -1, 4)


@pytest.mark.parametrize(
    ("angles", "corner0"),
    [
        # 7th number ("roll"): a quarter turn about X. (1, 2, 3) -> (1, -3, 2); +z 10 -> (1, -3, 12)
        ({"roll": 0.5}, (50 + 100 / 12, 50 - 300 / 12)),
        # 8th ("pitch"): about Y. (1, 2, 3) -> (3, 2, -1) -> (3, 2, 9)
        ({"pitch": 0.5}, (50 + 300 / 9, 50 + 200 / 9)),
        # 9th ("yaw"): about Z. (1, 2, 3) -> (-2, 1, 3) -> (-2, 1, 13)
        ({"yaw": 0.5}, (50 - 200 / 13, 50 + 100 / 13)),
    ],
)
def test_angles_are_fractions_of_pi_in_the_cookbook_order(
    angles: dict[str, float], corner0: tuple[float, float]
) -> None:
    box = Box3D(label="b", x=0, y=0, z=10, x_size=2, y_size=4, z_size=6, **angles)
    assert box.project(intrinsics=CAMERA)[0] == pytest.approx(corner0)


def test_default_is_a_60_degree_field_of_view() -> None:
    box = Box3D(label="b", x=0, y=0, z=5, x_size=1, y_size=1, z_size=1, image_size=(640, 480))
    fx, fy = 320 / math.tan(math.radians(30)), 240 / math.tan(math.radians(30))
    assert box.project()[0] == pytest.approx((fx * 0.5 / 5.5 + 320, fy * 0.5 / 5.5 + 240))
    assert Intrinsics.from_fov(640, 480) == Intrinsics(fx=fx, fy=fy, cx=320, cy=240)
    stored = box.model_copy(update={"intrinsics": Intrinsics(fx=10, fy=10, cx=0, cy=0)})
    assert stored.to_pixels()[0] == pytest.approx((10 * 0.5 / 5.5, 10 * 0.5 / 5.5))


def test_a_corner_behind_the_camera_cannot_be_projected() -> None:
    box = Box3D(label="near", x=0, y=0, z=0.5, x_size=2, y_size=2, z_size=2)
    with pytest.raises(ValueError, match="behind the camera"):
        box.project(100, 100)


# --- draw and crop ---------------------------------------------------------------------------


def _white(width: int = 200, height: int = 100) -> Image.Image:
    return Image.new("RGB", (width, height), "white")


def test_draw_leaves_the_input_alone_and_marks_the_box() -> None:
    picture = _white()
    before = picture.tobytes()
    box = Box2D(label="thing", x1=250, y1=250, x2=750, y2=750)  # pixels (50, 25, 150, 75)
    drawn = draw(picture, [box])
    assert picture.tobytes() == before
    assert drawn is not picture
    assert drawn.size == picture.size
    colour = label_colour(0)
    assert drawn.getpixel((150, 50)) == colour  # right edge
    assert drawn.getpixel((100, 75)) == colour  # bottom edge
    assert drawn.getpixel((100, 50)) == (255, 255, 255)  # inside stays clear
    assert drawn.getpixel((190, 95)) == (255, 255, 255)


def test_each_label_has_its_own_colour_and_points_are_marked() -> None:
    a = Box2D(label="a", x1=100, y1=300, x2=300, y2=900)
    b = Box2D(label="b", x1=600, y1=300, x2=900, y2=900)
    again = Box2D(label="a", x1=400, y1=600, x2=500, y2=700)
    dot = Point2D(label="c", x=500, y=150)
    drawn = draw(_white(), [a, b, again, dot])
    assert label_colour(0) != label_colour(1)
    assert drawn.getpixel((60, 60)) == label_colour(0)  # a: right edge at x = 60
    assert drawn.getpixel((180, 60)) == label_colour(1)  # b: right edge at x = 180
    assert drawn.getpixel((100, 70)) == label_colour(0)  # the second "a" shares a's colour
    assert drawn.getpixel((100, 15)) == label_colour(2)  # the point's centre


def test_3d_wireframe_and_scaling_with_picture_size() -> None:
    cube = Box3D(label="cube", x=0, y=0, z=5, x_size=2, y_size=2, z_size=2)
    drawn = draw(_white(100, 100), [cube.model_copy(update={"intrinsics": CAMERA})])
    assert drawn.getpixel((75, 50)) == label_colour(0)  # on the near face's right edge
    big = draw(_white(2000, 2000), [Box2D(label="x", x1=250, y1=250, x2=750, y2=750)])
    assert big.getpixel((1500 - 8, 1000)) == label_colour(0)  # lines ~10 px wide here
    thin = draw(_white(2000, 2000), [Box2D(label="x", x1=250, y1=250, x2=750, y2=750)],
                line_width=2)  # fmt: skip
    assert thin.getpixel((1500 - 8, 1000)) == (255, 255, 255)


def test_draw_refuses_other_objects() -> None:
    with pytest.raises(TypeError, match="Box2D, Point2D or Box3D"):
        draw(_white(), ["not a box"])  # type: ignore[list-item]


def _gradient(width: int = 400, height: int = 200) -> Image.Image:
    picture = Image.new("RGB", (width, height))
    picture.putdata([(x % 256, y % 256, 0) for y in range(height) for x in range(width)])
    return picture


def test_crop_region_at_full_resolution() -> None:
    picture = _gradient()
    crop = crop_region(picture, [250, 500, 750, 1000])
    assert crop.size == (200, 100)
    assert crop.tobytes() == picture.crop((100, 100, 300, 200)).tobytes()
    # Swapped and out-of-range corners are ordered and clipped; a Box2D works too.
    assert crop_region(picture, [750, 1200, 250, 500]).size == (200, 100)
    assert crop_region(picture, Box2D(label="r", x1=0, y1=0, x2=10, y2=10)).size == (4, 2)
    assert crop_region(picture, [500, 500, 500, 500]).size == (1, 1)  # never empty


@pytest.mark.parametrize("region", [[1, 2, 3], "left half", [0, 0, float("nan"), 5]])
def test_crop_region_refuses_bad_regions(region: object) -> None:
    with pytest.raises(ValueError, match="region must be 4 numbers"):
        crop_region(_gradient(), region)  # type: ignore[arg-type]


def test_exif_rotation_is_applied_to_sizes_and_crops() -> None:
    stored = _gradient(400, 200)  # stored landscape, displayed portrait (orientation 6)
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    stored.save(buffer, format="JPEG", exif=exif.tobytes())
    data = buffer.getvalue()
    assert crop_region(data, [0, 0, 1000, 1000]).size == (200, 400)
    assert draw(data, []).size == (200, 400)
    assert crop_region(data, [0, 0, 1000, 500]).size == (200, 200)
    with pytest.raises(ValueError, match="never downloaded"):
        crop_region("https://example.com/a.jpg", [0, 0, 1, 1])
