"""Decoding and resizing for the backbone: sizes, crop geometry, colour modes, EXIF, bad input."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nunchi.analyzers.vision.preprocess import CROP_PADDING, load_rgb, to_array, to_batch
from nunchi.errors import InvalidInput


def _bytes(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


@pytest.mark.parametrize("size", [224, 240, 260])
def test_output_shape_and_range_per_variant_size(size: int) -> None:
    img = Image.new("RGB", (333, 200), (10, 200, 30))
    arr = to_array(img, size)
    assert arr.shape == (3, size, size)
    assert arr.dtype == np.float32
    np.testing.assert_allclose(arr[:, size // 2, size // 2], [10, 200, 30], atol=1)


def test_centre_crop_is_size_over_size_plus_padding_of_short_side() -> None:
    # A 256x256 image at size 224: the crop is exactly 224 px, from offset 16, not resized.
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    arr = to_array(Image.fromarray(pixels), 224)
    assert 224 / (224 + CROP_PADDING) * 256 == 224
    np.testing.assert_array_equal(arr.transpose(1, 2, 0), pixels[16:240, 16:240].astype(np.float32))


def test_crop_is_centred_on_a_wide_image() -> None:
    # Red centre square, blue side bands: the crop (short side) sees only red.
    img = Image.new("RGB", (600, 200), (0, 0, 255))
    img.paste((255, 0, 0), (200, 0, 400, 200))
    arr = to_array(img, 224)
    assert arr[0].min() > 250 and arr[2].max() < 5


def test_rgba_transparency_becomes_white() -> None:
    img = Image.new("RGBA", (50, 50), (255, 0, 0, 0))  # fully transparent red
    img.paste((0, 0, 255, 255), (0, 0, 25, 50))
    rgb = load_rgb(_bytes(img, "PNG"))
    assert rgb.mode == "RGB"
    assert rgb.getpixel((40, 10)) == (255, 255, 255)
    assert rgb.getpixel((5, 10)) == (0, 0, 255)


@pytest.mark.parametrize(
    ("mode", "value", "expected"),
    [("L", 128, (128, 128, 128)), ("1", 1, (255, 255, 255)), ("LA", (60, 255), (60, 60, 60))],
)
def test_greyscale_modes_become_rgb(mode: str, value: object, expected: tuple[int, ...]) -> None:
    rgb = load_rgb(Image.new(mode, (8, 8), value))  # type: ignore[arg-type]
    assert rgb.mode == "RGB"
    assert rgb.getpixel((3, 3)) == expected


def test_palette_with_transparency_is_flattened() -> None:
    img = Image.new("P", (10, 10), 0)
    img.putpalette([0, 255, 0] + [0, 0, 0] * 255)
    img.info["transparency"] = 0
    rgb = load_rgb(_bytes(img, "PNG"))
    assert rgb.getpixel((5, 5)) == (255, 255, 255)


def test_palette_without_transparency_keeps_colours() -> None:
    img = Image.new("P", (10, 10), 0)
    img.putpalette([0, 255, 0] + [0, 0, 0] * 255)
    assert load_rgb(_bytes(img, "PNG")).getpixel((5, 5)) == (0, 255, 0)


def test_16_bit_greyscale_scales_instead_of_clipping() -> None:
    img = Image.fromarray(np.full((6, 6), 32896, dtype=np.uint16))  # half of 65535 (x257 = 128)
    rgb = load_rgb(img)
    assert rgb.getpixel((2, 2)) == (128, 128, 128)


def test_cmyk_becomes_rgb() -> None:
    rgb = load_rgb(_bytes(Image.new("CMYK", (8, 8), (0, 255, 255, 0)), "JPEG"))
    r, g, b = rgb.getpixel((4, 4))  # type: ignore[misc]
    assert r > 200 and g < 60 and b < 60


def test_exif_orientation_is_applied() -> None:
    # Stored landscape 40x20, top half red; Orientation 6 means "rotate 90 degrees clockwise".
    img = Image.new("RGB", (40, 20), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, 40, 10))
    exif = Image.Exif()
    exif[0x0112] = 6
    rgb = load_rgb(_bytes(img, "JPEG", exif=exif, quality=95))
    assert rgb.size == (20, 40)
    right = rgb.getpixel((17, 20))
    left = rgb.getpixel((2, 20))
    assert right[0] > 200 and right[2] < 60  # type: ignore[index]
    assert left[2] > 200 and left[0] < 60  # type: ignore[index]


def test_large_jpeg_is_decoded_reduced_but_not_below_min_side() -> None:
    data = _bytes(Image.new("RGB", (2000, 1500), (90, 90, 90)), "JPEG")
    img = load_rgb(data, min_side=256)
    assert 256 <= min(img.size) < 1500
    assert load_rgb(data).size == (2000, 1500)


def test_path_bytes_and_image_give_the_same_batch(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    img = Image.fromarray(rng.integers(0, 256, (180, 240, 3), dtype=np.uint8))
    path = tmp_path / "x.png"
    img.save(path)
    batch = to_batch([path, path.read_bytes(), img, str(path)], 224)
    assert batch.shape == (4, 3, 224, 224)
    for i in range(1, 4):
        np.testing.assert_array_equal(batch[0], batch[i])


def test_animation_gives_its_first_frame() -> None:
    frames = [Image.new("RGB", (16, 16), c) for c in [(255, 0, 0), (0, 255, 0)]]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    r, g, _ = load_rgb(buf.getvalue()).getpixel((8, 8))  # type: ignore[misc]
    assert r > 200 and g < 50


def test_not_an_image_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="not an image"):
        load_rgb(b"certainly not a picture")
    with pytest.raises(InvalidInput, match="cannot read"):
        load_rgb(tmp_path / "missing.jpg")


def test_truncated_jpeg_is_invalid_input() -> None:
    data = _bytes(Image.new("RGB", (300, 300), (1, 2, 3)), "JPEG")
    with pytest.raises(InvalidInput, match="truncated or corrupt"):
        load_rgb(data[: len(data) // 2])


def test_to_array_rejects_non_rgb() -> None:
    with pytest.raises(InvalidInput, match="load_rgb"):
        to_array(Image.new("L", (10, 10)), 224)
