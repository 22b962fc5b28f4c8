"""Images to the backbone's input: decode, upright, RGB, centre crop, resize (pure: Pillow, numpy).

The EfficientNet-Lite checkpoints were evaluated with the TensorFlow reference's eval transform:
a square centre crop of ``size / (size + 32)`` of the shorter side, resized to ``size`` x ``size``
with bicubic interpolation. :func:`to_array` reproduces it; the pixel normalisation
(``(x - 127) / 128``) is inside the exported ONNX graph, so the array holds plain 0..255 values.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from typing import TypeAlias

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps, UnidentifiedImageError

from nunchi.errors import InvalidInput

__all__ = ["CROP_PADDING", "ImageInput", "load_rgb", "to_array", "to_batch"]

CROP_PADDING = 32
"""Pixels of context the reference eval transform leaves around the centre crop."""

ImageInput: TypeAlias = "str | os.PathLike[str] | bytes | Image.Image"
"""What the vision analyzers accept: a file path, the file's bytes, or an opened Pillow image."""

_BACKGROUND = (255, 255, 255)


def _open(image: ImageInput) -> Image.Image:
    if isinstance(image, Image.Image):
        return image
    try:
        if isinstance(image, bytes | bytearray | memoryview):
            return Image.open(io.BytesIO(bytes(image)))
        return Image.open(os.fspath(image))
    except (UnidentifiedImageError, Image.DecompressionBombError) as e:
        raise InvalidInput(f"not an image Pillow can read (JPEG, PNG, WebP, GIF ...): {e}") from e
    except OSError as e:
        raise InvalidInput(f"cannot read the image: {e}") from e


def _high_depth_to_rgb(img: Image.Image) -> Image.Image:
    """16-bit / 32-bit greyscale to 8-bit RGB (Pillow's own convert clips those to 255)."""
    arr = np.asarray(img, dtype=np.float64)
    if img.mode == "F":
        peak = 1.0 if float(arr.max(initial=0.0)) <= 1.0 else 255.0
        arr = arr / peak * 255.0
    else:  # "I", "I;16", "I;16B" ...: integer samples, 16 bits in practice
        arr = arr / 257.0
    grey = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
    return Image.fromarray(grey).convert("RGB")


def _flatten_alpha(img: Image.Image) -> Image.Image:
    rgba = img.convert("RGBA")
    canvas = Image.new("RGB", rgba.size, _BACKGROUND)
    canvas.paste(rgba, mask=rgba.getchannel("A"))
    return canvas


def load_rgb(image: ImageInput, *, min_side: int | None = None) -> Image.Image:
    """Decode ``image`` into an upright 8-bit RGB image.

    EXIF orientation is applied; transparency is flattened onto white; palette, greyscale
    (8- and 16-bit), CMYK and other modes become RGB; an animation gives its first frame.
    With ``min_side`` a JPEG may be decoded at a reduced scale (DCT scaling) whose sides both
    stay at least ``min_side``, which makes large photos much cheaper to read. Raises
    :class:`~nunchi.errors.InvalidInput` for data that is not a readable image.
    """
    img = _open(image)
    try:
        if min_side is not None and img.format == "JPEG" and not isinstance(image, Image.Image):
            img.draft(None, (min_side, min_side))
        img = ImageOps.exif_transpose(img)
        img.load()
    except (OSError, SyntaxError, ValueError) as e:
        raise InvalidInput(f"the image is truncated or corrupt: {e}") from e
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        mode in ("P", "L", "RGB") and "transparency" in img.info
    ):
        return _flatten_alpha(img)
    if mode in ("F", "I") or mode.startswith("I;"):
        return _high_depth_to_rgb(img)
    try:
        return img.convert("RGB")
    except ValueError as e:
        raise InvalidInput(f"cannot convert an image in mode {mode!r} to RGB") from e


def to_array(img: Image.Image, size: int) -> NDArray[np.float32]:
    """One RGB image as the backbone input ``(3, size, size)``: centre crop, bicubic, 0..255.

    The crop is the square of ``size / (size + CROP_PADDING)`` of the shorter side, centred.
    """
    if img.mode != "RGB":
        raise InvalidInput(f"to_array wants an RGB image, got mode {img.mode!r}: use load_rgb")
    w, h = img.size
    crop = max(1, int(size / (size + CROP_PADDING) * min(w, h)))
    left = (w - crop + 1) // 2
    top = (h - crop + 1) // 2
    out = img.resize(
        (size, size), Image.Resampling.BICUBIC, box=(left, top, left + crop, top + crop)
    )
    return np.asarray(out, dtype=np.float32).transpose(2, 0, 1)


def to_batch(images: Sequence[ImageInput], size: int) -> NDArray[np.float32]:
    """Several images as one float32 batch ``(n, 3, size, size)`` (see :func:`load_rgb`)."""
    batch = np.empty((len(images), 3, size, size), dtype=np.float32)
    for i, image in enumerate(images):
        batch[i] = to_array(load_rgb(image, min_side=size + CROP_PADDING), size)
    return batch
