"""Photos from outside (uploads, URL imports, archives) read safely into RGB pixels.

:func:`load_image` trusts only the bytes: the format is sniffed from the magic bytes (the
client's content type and file name are ignored), only the formats in :data:`ACCEPTED` are
decoded, and Pillow is told to try only the sniffed format's decoder. The pixel count is checked
from the header before any pixel is decoded (per call: Pillow's process-wide
``Image.MAX_IMAGE_PIXELS`` is never changed, and any image over it is refused too, so its
``DecompressionBombWarning`` never lets an image through). Truncated and corrupt files are
refused (``ImageFile.LOAD_TRUNCATED_IMAGES`` is left off). The EXIF orientation is applied and
the pixels converted to 8-bit RGB (transparency over white, 16-bit channels scaled, CMYK
converted); GIF and other animations give their first frame.

Refusals: :class:`~nunchi.errors.PayloadTooLarge` (413) over the byte or pixel limit,
:class:`~nunchi.errors.UnsupportedMediaType` (415) for anything that is not an accepted
image (the message names what was detected), :class:`~nunchi.errors.InvalidInput` (422) for an
accepted format whose content is damaged.
"""

from __future__ import annotations

import functools
import hashlib
import io
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from PIL import Image, UnidentifiedImageError, features

from nunchi.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType
from nunchi.inputs.sniff import HEAD_BYTES, sniff

__all__ = [
    "ACCEPTED",
    "DEFAULT_MAX_IMAGE_BYTES",
    "DEFAULT_MAX_PIXELS",
    "SafeImage",
    "accepted_formats",
    "load_image",
]

DEFAULT_MAX_IMAGE_BYTES = 20 * 1024 * 1024
"""20 MiB: a 50-megapixel phone JPEG is about 15-25 MB at high quality."""
DEFAULT_MAX_PIXELS = 50_000_000
"""50 megapixels (a 50 MP phone photo, 8160x6120, is 49.9 M); decoded as RGB that is 150 MB."""

ACCEPTED: dict[str, str] = {
    "jpeg": "JPEG",
    "png": "PNG",
    "webp": "WEBP",
    "gif": "GIF",
    "bmp": "BMP",
}
"""Sniffed kind -> Pillow format name, for the formats always accepted."""
_OPTIONAL: dict[str, tuple[str, str]] = {
    # kind -> (Pillow format, the feature Pillow must have been built with)
    "heic": ("HEIF", "heif"),
    "avif": ("AVIF", "avif"),
}
_NAMES = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WebP", "GIF": "GIF", "BMP": "BMP",
          "HEIF": "HEIC", "AVIF": "AVIF"}  # fmt: skip
_ORIENTATION_TAG = 0x0112
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _pillow_has(fmt: str, feature: str) -> bool:
    Image.init()
    if fmt not in Image.OPEN:
        return False
    try:
        return bool(features.check(feature))
    except ValueError:  # a feature name this Pillow does not know
        return True  # the opener is registered (a plugin), which is what matters


@functools.cache
def _available() -> tuple[tuple[str, str], ...]:
    optional = [(k, fmt) for k, (fmt, feature) in _OPTIONAL.items() if _pillow_has(fmt, feature)]
    return (*ACCEPTED.items(), *optional)


def accepted_formats() -> dict[str, str]:
    """Sniffed kind -> Pillow format for every format this installation decodes: JPEG, PNG,
    WebP, GIF, BMP, and HEIC/AVIF when Pillow itself can open them (no extra plugin is loaded
    here)."""
    return dict(_available())


def _accepted_list(formats: dict[str, str]) -> str:
    return ", ".join(_NAMES.get(f, f) for f in formats.values())


def _mib(n: int) -> str:
    return f"{n / 1048576:.1f} MiB" if n >= 1048576 else f"{n} bytes"


def _called(name: str | None) -> str:
    return f"{name!r}" if name else "the image"


@dataclass(frozen=True, eq=False)
class SafeImage:
    """A decoded photo: ``image`` is 8-bit RGB, upright (EXIF orientation applied).

    ``format`` is the sniffed format (``"JPEG"``, ``"PNG"`` ...), ``sha256`` the hex digest of
    the original bytes (for dedupe), ``data`` those bytes (they still carry the EXIF data,
    GPS position included: store :meth:`encode`'s output instead to drop it)."""

    image: Image.Image = field(repr=False)
    format: str
    width: int
    height: int
    sha256: str
    data: bytes = field(repr=False)
    name: str | None = None
    animated: bool = False
    """True when the file holds more frames than the first one used here."""
    source_mode: str = "RGB"
    """Pillow's mode of the decoded file before conversion (``"RGBA"``, ``"I;16"``, ``"P"``)."""

    @property
    def size_bytes(self) -> int:
        """Length of the original file."""
        return len(self.data)

    def encode(self, format: Literal["JPEG", "WEBP", "PNG"] = "JPEG", quality: int = 90) -> bytes:
        """The pixels re-encoded without any metadata (no EXIF, no GPS)."""
        out = io.BytesIO()
        if format == "PNG":
            self.image.save(out, "PNG", optimize=False)
        else:
            self.image.save(out, format, quality=quality)
        return out.getvalue()

    def thumbnail(
        self,
        max_side: int = 512,
        *,
        format: Literal["JPEG", "WEBP"] = "JPEG",
        quality: int = 85,
    ) -> bytes:
        """A copy no larger than ``max_side`` on either side (aspect kept, never enlarged),
        encoded as JPEG or WebP without metadata."""
        if max_side < 1:
            raise InvalidInput(f"thumbnail max_side must be at least 1, not {max_side}")
        small = self.image
        longest = max(small.width, small.height)
        if longest > max_side:  # resize makes only the small copy (thumbnail() needs a full one)
            scale = max_side / longest
            size = (max(1, round(small.width * scale)), max(1, round(small.height * scale)))
            small = small.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        out = io.BytesIO()
        small.save(out, format, quality=quality)
        return out.getvalue()


def _pixel_limit(max_pixels: int) -> int:
    if Image.MAX_IMAGE_PIXELS is None:
        return max_pixels
    # Over Pillow's own limit it warns (DecompressionBombWarning): refuse those too.
    return min(max_pixels, int(Image.MAX_IMAGE_PIXELS))


def _open(data: bytes, fmt: str, called: str, label: str, max_pixels: int) -> Image.Image:
    try:
        return Image.open(io.BytesIO(data), formats=[fmt])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        # The error: over twice Pillow's process-wide limit. The warning arrives as an
        # exception only where the process turned it into one; either way, refuse.
        raise PayloadTooLarge(
            f"{called} declares far more pixels than the limit of "
            f"{_pixel_limit(max_pixels):,} pixels ({e}); send a smaller image (resize it)"
        ) from e
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise InvalidInput(
            f"{called} starts like {label} but its header is damaged ({e}); "
            "send the original file or save it again"
        ) from e


def _check_pixels(im: Image.Image, max_pixels: int, called: str) -> None:
    width, height = im.size
    if width < 1 or height < 1:
        raise InvalidInput(f"{called} declares a size of {width}x{height} pixels; it is damaged")
    limit = _pixel_limit(max_pixels)
    if width * height > limit:
        raise PayloadTooLarge(
            f"{called} is {width}x{height} = {width * height:,} pixels; the limit is "
            f"{limit:,} pixels. Send a smaller image (resize it)"
        )


def _orientation(im: Image.Image) -> int:
    try:
        value = im.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:  # malformed EXIF must not refuse a photo: it only loses the rotation
        return 1
    return value if isinstance(value, int) else 1


def _sixteen_bit_to_l(im: Image.Image) -> Image.Image:
    values = np.asarray(im)
    if im.mode == "F":
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) * (255.0 / (high - low)) if high > low else values * 0
        return Image.fromarray(scaled.clip(0, 255).astype(np.uint8), "L")
    return Image.fromarray((values.astype(np.int64).clip(0, 65535) >> 8).astype(np.uint8), "L")


def _to_rgb(im: Image.Image) -> Image.Image:
    mode = im.mode
    if mode == "RGB":
        return im
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
        mode = im.mode
    if mode in ("I", "F") or mode.startswith("I;16"):
        return _sixteen_bit_to_l(im).convert("RGB")
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return im.convert("RGB")


def _decode(im: Image.Image, called: str, label: str) -> tuple[Image.Image, bool, str]:
    try:
        # Before load(): finding a second frame seeks past the first, and load() then decodes
        # only the first frame once.
        animated = bool(getattr(im, "is_animated", False))
        im.load()
        source_mode = im.mode
        rgb = _to_rgb(im)
        transpose = _TRANSPOSE.get(_orientation(im))
        if transpose is not None:
            rgb = rgb.transpose(transpose)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise PayloadTooLarge(f"{called} has too many pixels ({e}); send a smaller image") from e
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        reason = str(e) or type(e).__name__
        raise InvalidInput(
            f"{called} is {label} that cannot be decoded ({reason}): the file is truncated or "
            "damaged; send the complete original file"
        ) from e
    return rgb, animated, source_mode


def load_image(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    name: str | None = None,
) -> SafeImage:
    """Decode ``data`` (a whole image file) into a :class:`SafeImage`, or refuse it.

    ``name`` is only used in messages and kept on the result. Raises PayloadTooLarge (413),
    UnsupportedMediaType (415) or InvalidInput (422, damaged) with a message saying what to
    fix."""
    called = _called(name)
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            f"{called} is {_mib(len(data))}; the limit is {_mib(max_bytes)}. "
            "Send a smaller file (resize or compress it)"
        )
    found = sniff(bytes(data[:HEAD_BYTES]))
    formats = accepted_formats()
    fmt = formats.get(found.kind)
    if fmt is None:
        hint = (
            "; export it as JPEG (on an iPhone: Settings > Camera > Formats > Most Compatible)"
            if found.kind == "heic"
            else ""
        )
        raise UnsupportedMediaType(
            f"{called} is {found.label}, not an image this service reads; "
            f"accepted formats: {_accepted_list(formats)}{hint}"
        )
    im = _open(data, fmt, called, found.label, max_pixels)
    try:
        _check_pixels(im, max_pixels, called)
        rgb, animated, source_mode = _decode(im, called, found.label)
    except BaseException:
        im.close()
        raise
    if rgb is not im:  # an 8-bit RGB file is used as decoded (no second copy of the pixels)
        im.close()
    return SafeImage(
        image=rgb,
        format=fmt,
        width=rgb.width,
        height=rgb.height,
        sha256=hashlib.sha256(data).hexdigest(),
        data=data,
        name=name,
        animated=animated,
        source_mode=source_mode,
    )
