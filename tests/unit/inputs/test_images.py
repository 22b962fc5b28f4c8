"""load_image: sniffed formats, bombs refused before decoding, damage refused, RGB and upright."""

from __future__ import annotations

import hashlib
import io
import threading
import time
import warnings

import pytest
from PIL import Image

from nunchi.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType
from nunchi.inputs.images import SafeImage, accepted_formats, load_image
from tests.unit.inputs.craft import bomb_png, encoded, solid

pytestmark = pytest.mark.timeout(60)

RED = (255, 0, 0)
BLUE = (0, 0, 255)


def near(pixel: object, expected: tuple[int, int, int], tolerance: int = 12) -> bool:
    assert isinstance(pixel, tuple)
    return all(abs(int(a) - b) <= tolerance for a, b in zip(pixel, expected, strict=True))


@pytest.mark.parametrize(
    ("fmt", "kind"), [("PNG", "PNG"), ("JPEG", "JPEG"), ("WEBP", "WEBP"), ("BMP", "BMP"),
                      ("GIF", "GIF")],
)  # fmt: skip
def test_each_accepted_format_decodes_to_rgb(fmt: str, kind: str) -> None:
    data = encoded(solid("RGB", (40, 30), RED), fmt)
    image = load_image(data, name=f"photo.{fmt.lower()}")
    assert (image.format, image.image.mode, image.width, image.height) == (kind, "RGB", 40, 30)
    assert near(image.image.getpixel((20, 15)), RED)
    assert image.sha256 == hashlib.sha256(data).hexdigest()
    assert image.size_bytes == len(data) and image.name == f"photo.{fmt.lower()}"


def test_a_png_named_and_typed_as_jpeg_is_read_as_what_it_is() -> None:
    image = load_image(encoded(solid("RGB", (8, 8), BLUE), "PNG"), name="photo.jpg")
    assert image.format == "PNG"


def test_random_bytes_named_jpg_are_refused_with_the_accepted_formats() -> None:
    junk = bytes(range(7, 256)) * 20
    with pytest.raises(UnsupportedMediaType) as e:
        load_image(junk, name="cat.jpg")
    message = str(e.value)
    assert e.value.status == 415 and "'cat.jpg'" in message and "unknown kind" in message
    assert "JPEG, PNG, WebP, GIF, BMP" in message


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "a PDF document"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "an SVG drawing"),
        (b"<!DOCTYPE html><html><body>not found</body></html>", "an HTML page"),
        (encoded(solid("RGB", (4, 4), RED), "TIFF"), "a TIFF image"),
        (b"", "an empty file"),
    ],
)
def test_other_kinds_are_refused_naming_what_they_are(data: bytes, named: str) -> None:
    with pytest.raises(UnsupportedMediaType, match=named):
        load_image(data)


def test_heic_is_refused_with_a_hint_unless_pillow_reads_it() -> None:
    if "heic" in accepted_formats():
        pytest.skip("this Pillow reads HEIC itself")
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64
    with pytest.raises(UnsupportedMediaType) as e:
        load_image(heic)
    assert "HEIC" in str(e.value) and "export it as JPEG" in str(e.value)


def test_avif_is_read_when_pillow_can() -> None:
    if "avif" not in accepted_formats():
        pytest.skip("this Pillow has no AVIF support")
    image = load_image(encoded(solid("RGB", (16, 16), RED), "AVIF", quality=90))
    assert image.format == "AVIF" and near(image.image.getpixel((8, 8)), RED, 30)


def test_the_byte_limit_is_checked_first_and_named() -> None:
    data = encoded(solid("RGB", (64, 64), RED), "PNG")
    with pytest.raises(PayloadTooLarge) as e:
        load_image(data, max_bytes=100)
    assert e.value.status == 413 and "limit is 100 bytes" in str(e.value)


def test_a_real_decompression_bomb_is_refused_fast_and_small() -> None:
    bomb = bomb_png(30000, 30000, complete=True)  # ~110 KB, 900 M pixels
    assert len(bomb) < 200_000
    started = time.monotonic()
    with pytest.raises(PayloadTooLarge) as e:
        load_image(bomb)
    assert time.monotonic() - started < 2.0  # decoding it would take far longer
    assert "50,000,000 pixels" in str(e.value)


def test_the_size_is_checked_from_the_header_before_any_pixel_is_decoded() -> None:
    # 4000x4000 declared with a few bytes of pixel data: decoding would fail as truncated
    # (422); a reader that checks the header first refuses it as too large (413).
    stub = bomb_png(4000, 4000, complete=False)
    with pytest.raises(PayloadTooLarge) as e:
        load_image(stub, max_pixels=1_000_000)
    assert "4000x4000 = 16,000,000 pixels; the limit is 1,000,000" in str(e.value)
    with pytest.raises(InvalidInput, match="truncated or damaged"):
        load_image(stub, max_pixels=20_000_000)


def test_images_over_pillows_own_limit_are_refused_even_with_a_higher_max() -> None:
    # 100 M pixels is over Pillow's MAX_IMAGE_PIXELS (89 M), where it only warns.
    stub = bomb_png(10000, 10000, complete=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with pytest.raises(PayloadTooLarge, match="10000x10000"):
            load_image(stub, max_pixels=500_000_000)


def test_a_warning_turned_into_an_error_by_the_process_is_a_413_too() -> None:
    stub = bomb_png(10000, 10000, complete=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with pytest.raises(PayloadTooLarge):
            load_image(stub, max_pixels=500_000_000)


def test_pixel_limits_are_per_call_even_across_threads() -> None:
    data = encoded(solid("RGB", (1000, 1000), RED), "PNG")
    results: dict[str, list[bool]] = {"small": [], "large": []}

    def run(limit: int, key: str) -> None:
        for _ in range(15):
            try:
                load_image(data, max_pixels=limit)
                results[key].append(True)
            except PayloadTooLarge:
                results[key].append(False)

    threads = [
        threading.Thread(target=run, args=(500_000, "small")),
        threading.Thread(target=run, args=(2_000_000, "large")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert results == {"small": [False] * 15, "large": [True] * 15}
    assert Image.MAX_IMAGE_PIXELS == 89478485  # Pillow's default, never touched


def test_a_truncated_jpeg_is_refused_as_damaged() -> None:
    data = encoded(solid("RGB", (300, 200), RED), "JPEG")
    with pytest.raises(InvalidInput) as e:
        load_image(data[: len(data) // 2], name="half.jpg")
    assert e.value.status == 422 and "truncated" in str(e.value) and "a JPEG image" in str(e.value)


def test_a_png_with_a_damaged_chunk_is_refused() -> None:
    data = bytearray(encoded(solid("RGB", (50, 50), RED), "PNG"))
    idat = data.index(b"IDAT")
    data[idat + 8] ^= 0xFF  # inside the pixel data: the chunk CRC no longer matches
    with pytest.raises(InvalidInput):
        load_image(bytes(data))


def test_a_damaged_header_is_a_422_naming_the_format() -> None:
    data = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0dIHDR" + b"\xff" * 20
    with pytest.raises(InvalidInput, match="a PNG image") as e:
        load_image(data)
    assert not isinstance(e.value, (UnsupportedMediaType, PayloadTooLarge))


def test_exif_orientation_is_applied() -> None:
    picture = solid("RGB", (40, 20), RED)
    picture.paste(BLUE, (20, 0, 40, 20))  # left half red, right half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    image = load_image(encoded(picture, "JPEG", exif=exif.tobytes(), quality=95))
    assert (image.width, image.height) == (20, 40)
    assert near(image.image.getpixel((10, 5)), RED) and near(image.image.getpixel((10, 35)), BLUE)


def test_sixteen_bit_greyscale_is_scaled_not_clipped() -> None:
    image = load_image(encoded(solid("I;16", (8, 8), 40000), "PNG"))
    assert image.source_mode.startswith("I") and image.image.mode == "RGB"
    assert near(image.image.getpixel((4, 4)), (156, 156, 156), 1)  # 40000 / 256


def test_cmyk_jpeg_becomes_rgb() -> None:
    image = load_image(encoded(solid("CMYK", (16, 16), (0, 255, 255, 0)), "JPEG", quality=95))
    assert image.source_mode == "CMYK" and near(image.image.getpixel((8, 8)), RED, 20)


def test_palette_transparency_becomes_white() -> None:
    palette = solid("P", (4, 2), 0)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0, 0, 0] * 254)
    palette.paste(1, (2, 0, 4, 2))  # right half red, left half index 0 = transparent
    image = load_image(encoded(palette, "PNG", transparency=0))
    assert image.source_mode == "P"
    assert image.image.getpixel((0, 0)) == (255, 255, 255)
    assert image.image.getpixel((3, 1)) == RED


def test_half_transparent_rgba_is_composited_over_white() -> None:
    image = load_image(encoded(solid("RGBA", (4, 4), (255, 0, 0, 128)), "PNG"))
    assert near(image.image.getpixel((1, 1)), (255, 127, 127), 2)


def test_an_animated_gif_gives_its_first_frame() -> None:
    frames = [solid("RGB", (10, 10), RED), solid("RGB", (10, 10), BLUE)]
    data = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50)
    image = load_image(data)
    assert image.animated and near(image.image.getpixel((5, 5)), RED)


def test_thumbnail_and_encode_drop_metadata_and_keep_the_aspect() -> None:
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"
    image: SafeImage = load_image(encoded(solid("RGB", (1000, 500), RED), "JPEG", exif=exif))
    for fmt, magic in (("JPEG", b"\xff\xd8\xff"), ("WEBP", b"RIFF")):
        thumb = image.thumbnail(100, format=fmt)  # type: ignore[arg-type]
        assert thumb.startswith(magic)
        with Image.open(io.BytesIO(thumb)) as small:
            assert small.size == (100, 50) and not small.getexif()
    with Image.open(io.BytesIO(image.encode("JPEG"))) as clean:
        assert clean.size == (1000, 500) and not clean.getexif()
    with pytest.raises(InvalidInput):
        image.thumbnail(0)
    small = load_image(encoded(solid("RGB", (50, 30), RED), "PNG"))
    with Image.open(io.BytesIO(small.thumbnail(512))) as same:
        assert same.size == (50, 30)  # never enlarged
