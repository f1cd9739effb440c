"""The one way images enter and leave the model.

Training, evaluation, dataset preparation and the app all call `open_image`
(any file a user may have, made upright RGB) and `to_tensor` (stretched to the
model's square with antialiased bicubic resampling, values in [-1, 1]).
"""

from __future__ import annotations

import io
import logging
import os
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image, ImageOps

logger = logging.getLogger(__name__)

# Limits, in one place. Smaller images hold too little to reconstruct; larger
# ones are refused from the header alone, before their pixels are decoded.
MIN_SIDE = 32
MAX_PIXELS = 40_000_000

# zlib level of the PNGs the app serves: at level 1 a 256 px frame encodes in ~5 ms against
# ~22 ms at Pillow's default 6, for files ~10% larger. The app's slider waits on this.
PNG_COMPRESS_LEVEL = 1

ImageSource = str | os.PathLike | bytes | BinaryIO | Image.Image


class ImageError(ValueError):
    """An input that cannot be used as an image; the message is for the user."""


def open_image(source: ImageSource) -> Image.Image:
    """Open a file, bytes or PIL image as an upright 8-bit RGB image.

    Animated files give their first frame, alpha is laid over white, CMYK,
    palette, grayscale and 16-bit images are converted. Raises ImageError with
    a message fit to show a user.
    """
    image = source if isinstance(source, Image.Image) else _open_lazily(source)
    check_size(image.size)
    try:
        # Decompression-bomb warnings become errors; our own limit is tighter anyway.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.seek(0)
            image.load()
            image = ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning) as err:
        raise ImageError(f"The image could not be decoded ({_reason(err)}).") from err
    return _to_rgb(image)


def _open_lazily(source: ImageSource) -> Image.Image:
    """Read only the header, so size limits apply before any pixel is decoded."""
    if isinstance(source, bytes):
        if not source:
            raise ImageError("The file is empty.")
        source = io.BytesIO(source)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise ImageError(f"No such file: {path}")
        if path.stat().st_size == 0:
            raise ImageError(f"The file is empty: {path.name}")
    try:
        return Image.open(source)
    except Image.DecompressionBombError as err:
        raise ImageError(f"The image is too large (limit {MAX_PIXELS:,} pixels).") from err
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageError(
            "This is not an image file that can be read (PNG, JPEG, WebP, GIF, ...)."
        ) from err


def check_size(size: tuple[int, int]) -> None:
    """Refuse images outside the library's limits, given (width, height)."""
    width, height = size
    if width * height > MAX_PIXELS:
        raise ImageError(
            f"The image is too large: {width}x{height} pixels (limit {MAX_PIXELS:,} pixels in all)."
        )
    if min(width, height) < MIN_SIDE:
        raise ImageError(
            f"The image is too small: {width}x{height} pixels "
            f"(each side needs at least {MIN_SIDE})."
        )


def _reason(err: Exception) -> str:
    text = str(err).strip()
    return text if text else type(err).__name__


def _to_rgb(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        return _high_depth_to_rgb(image)
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def _high_depth_to_rgb(image: Image.Image) -> Image.Image:
    """Scale 16-bit, 32-bit integer and float grayscale to 8 bits instead of clipping."""
    values = np.asarray(image, dtype=np.float64)
    if image.mode == "F":
        top = 1.0 if values.max(initial=0.0) <= 1.0 else 255.0
    else:
        top = 255.0 if values.max(initial=0.0) <= 255 else 65535.0
    gray = np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(gray).convert("RGB")


def resize_square(image: Image.Image, size: int) -> Image.Image:
    """Stretch to size x size; Pillow's bicubic filter widens its support to antialias."""
    return image.resize((size, size), Image.Resampling.BICUBIC)


def to_tensor(image: ImageSource, size: int) -> torch.Tensor:
    """Any image source -> (3, size, size) float tensor in [-1, 1]."""
    rgb = resize_square(open_image(image), size)
    array = np.asarray(rgb, dtype=np.uint8).copy()
    x = torch.from_numpy(array).permute(2, 0, 1).float()
    return x / 127.5 - 1.0


def to_pil(x: torch.Tensor) -> Image.Image:
    """(3, H, W) tensor in [-1, 1] -> 8-bit RGB PIL image."""
    array = ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return Image.fromarray(array.permute(1, 2, 0).cpu().numpy())


def save_png(image: Image.Image, dst: str | os.PathLike | BinaryIO) -> None:
    """Write a PNG quickly (see PNG_COMPRESS_LEVEL); lossless whatever the level."""
    image.save(dst, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
