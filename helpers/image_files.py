"""One image decoder for training and prediction: any image file in, upright 8-bit RGB out.

Training (:func:`helpers.data.image_folder` passes :func:`load_image` as
``ImageFolder``'s ``loader``) and prediction (:func:`helpers.predict.predict`)
decode a file with the same function, so the model sees the same pixels when it
learns from a file and when it is asked about it. :func:`to_rgb` decides how
every mode becomes RGB:

* EXIF orientation is applied (phones store a rotation flag instead of rotating the pixels);
* transparent pixels are composited on black, the background of the malaria cell images
  (RGBA, LA, and palette images with a transparent colour alike);
* 16-bit and 32-bit grayscale are scaled to 0..255, not clipped;
* grayscale and CMYK are converted to RGB.

:func:`load_image` also refuses decompression bombs and files that are not
images, with errors that say what was expected, what was found and what to do.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS: int = Image.MAX_IMAGE_PIXELS or 89_478_485
"""Images with more pixels are refused (PIL's own decompression-bomb limit, about 89 million)."""
MAX_SIDE = 2048
"""Larger images are shrunk to this longer side before the transform: same prediction, far less work."""
BACKGROUND = (0, 0, 0)
"""Transparent pixels become black, the background of the malaria cell images."""
SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N")
URL_SCHEMES = ("http://", "https://", "ftp://", "s3://", "gs://")


class ImageInputError(ValueError):
    """An image the model cannot use (not an image, damaged, empty); the message says what to do."""


class ImageTooLargeError(ImageInputError):
    """An image with more pixels than the limit: possibly a decompression bomb."""


def _too_large_message(name: str, size: tuple[int, int], limit: int) -> str:
    return (f"{name} is {size[0]} x {size[1]} = {size[0] * size[1]:,} pixels, more than the limit of {limit:,}. "
            "A file this large may be a decompression bomb (a small file that expands to gigabytes of pixels). "
            "If you trust it, shrink or crop it with an image tool first (a training folder takes no larger "
            f"limit), or open it yourself with load_image(path, max_pixels={size[0] * size[1]}) and pass that "
            "picture to predict.")


def _open_image(path: Path, max_pixels: int) -> Image.Image:
    """Open ``path`` with PIL, turning its errors into ones that say what to do."""
    if path.is_dir():
        raise ImageInputError(f"{path} is a folder, not an image file: give the path of one image inside it "
                              "(helpers.data.image_folder reads a whole folder of class folders).")
    if not path.is_file():
        raise FileNotFoundError(f"No file at {path}: check the path (relative paths start from the folder "
                                "the notebook runs in).")
    pil_limit = Image.MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # PIL's own limit gives way to a larger max_pixels, so that advice works past it
            Image.MAX_IMAGE_PIXELS = max(max_pixels, pil_limit or 0) if pil_limit else None
            image = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageTooLargeError(
            f"{path.name} is too large to open safely. PIL says: {error} A decompression bomb is a small file "
            "that expands to gigabytes of pixels. If you trust the file, shrink or crop it with an image tool "
            "first (a training folder takes no larger limit), or open it yourself with load_image(path, "
            "max_pixels=...) set above its size and pass that picture to predict.") from None
    except UnidentifiedImageError:
        start = path.read_bytes()[:8]
        raise ImageInputError(
            f"{path.name} is not an image PIL can read (its first bytes are {start!r}). Expected a PNG, "
            "JPEG, TIFF, BMP or another image file: check that the file is an image and was fully "
            "downloaded.") from None
    except ValueError as error:  # PNG text chunks that expand too far: a decompression bomb in the metadata
        raise ImageTooLargeError(f"{path.name} holds metadata that expands too far to read safely ({error}): "
                                 "it may be a decompression bomb. If you trust it, save the image again "
                                 "without its metadata with an image tool.") from None
    except (OSError, SyntaxError) as error:  # cut off within its header
        raise ImageInputError(f"{path.name} is truncated or damaged: PIL cannot read even its header "
                              f"({error}). Download or copy the file again.") from None
    finally:
        Image.MAX_IMAGE_PIXELS = pil_limit
    try:
        check_size(path.name, image.size, max_pixels)
    except ImageInputError:
        image.close()
        raise
    return image


def check_size(name: str, size: tuple[int, int], max_pixels: int) -> None:
    """Raise for an image without pixels (0 x N) or with more than ``max_pixels``.

    Example:
        >>> check_size("cell.png", (40, 30), max_pixels=10_000)
    """
    if min(size) <= 0:
        raise ImageInputError(f"{name} is {size[0]} x {size[1]} pixels: it has no pixels to classify. "
                              "Pass an image with at least one pixel in each direction.")
    if size[0] * size[1] > max_pixels:
        raise ImageTooLargeError(_too_large_message(name, size, max_pixels))


def _sixteen_bit_to_8(image: Image.Image) -> Image.Image:
    """Scale 16-bit (or 32-bit integer) grayscale to 0..255: PIL's convert('L') would clip it instead."""
    values = np.asarray(image, dtype=np.float64)
    full_scale = 65535.0 if image.mode in SIXTEEN_BIT_MODES or values.max() > 255 else 255.0
    return Image.fromarray(np.clip(values / full_scale * 255.0 + 0.5, 0, 255).astype(np.uint8))


def to_rgb(image: Image.Image) -> Image.Image:
    """Return ``image`` as upright 8-bit RGB: EXIF rotation applied, transparency on black.

    Example:
        >>> to_rgb(Image.new("LA", (2, 2))).mode
        'RGB'
        >>> to_rgb(Image.new("RGBA", (1, 1), (200, 120, 160, 0))).getpixel((0, 0))  # fully transparent
        (0, 0, 0)
    """
    image = ImageOps.exif_transpose(image)  # phones store a rotation flag instead of rotating the pixels
    if image.mode in SIXTEEN_BIT_MODES or image.mode == "I":
        image = _sixteen_bit_to_8(image)
    elif image.mode == "F":
        values = np.asarray(image, dtype=np.float64)
        if not np.isfinite(values).all():
            raise ImageInputError(f"this {image.width}x{image.height} floating-point image holds "
                                  f"{np.count_nonzero(~np.isfinite(values)):,} NaN or infinite pixels, which have no "
                                  "colour: fix the image where it was made, or leave it out.")
        values = values * 255.0 if values.max() <= 1.0 else values
        image = Image.fromarray(np.clip(values + 0.5, 0, 255).astype(np.uint8))
    if image.mode in ("P", "PA"):
        image = image.convert("RGBA")  # a palette image may hide transparency in its palette
    if image.mode in ("RGBA", "LA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", image.size, BACKGROUND)
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def refuse_url(source: str | os.PathLike) -> None:
    """Raise :class:`ImageInputError` for a web address: the course reads local files only.

    Example:
        >>> refuse_url("cell.png")
    """
    text = str(source)
    if text.lower().startswith(URL_SCHEMES):
        raise ImageInputError(
            f"{text} is a web address, and prediction reads local files only: download it first, e.g. "
            "urllib.request.urlretrieve(url, 'cell.png'), then pass 'cell.png'.")


def _decode(image: Image.Image, name: str, max_side: int) -> Image.Image:
    """Decode the pixels of an opened ``image`` as upright RGB no longer than ``max_side``."""
    if max(image.size) > max_side:
        image.draft("RGB", (max_side, max_side))  # JPEG decodes at a fraction of full size: fast and frugal
    try:
        image = to_rgb(image)  # decodes the pixels: a damaged file fails here, not at open
    except ImageInputError as error:  # pixels with no colour: say which file
        raise ImageInputError(f"{name}: {error}") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageInputError(
            f"{name} is truncated or damaged: PIL read its header but not its pixels ({error}). Download or "
            "copy the file again; if it came from a phone or camera, export it again.") from None
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side))
    return image


def load_image(source: str | os.PathLike | Image.Image, max_pixels: int = MAX_PIXELS,
               max_side: int = MAX_SIDE) -> Image.Image:
    """Return the image at ``source`` (a path or a PIL image) as upright 8-bit RGB (see :func:`to_rgb`).

    Images longer than ``max_side`` are shrunk (keeping their aspect ratio);
    images with more than ``max_pixels`` pixels are refused before they are
    decoded. A file is closed before this returns.

    Raises:
        FileNotFoundError: there is no such file.
        ImageInputError: the path is a folder, or the file is not an image, or is damaged.
        ImageTooLargeError: the image has more than ``max_pixels`` pixels.

    Example:
        >>> load_image(Image.new("RGBA", (3, 2))).size
        (3, 2)
    """
    if isinstance(source, Image.Image):
        check_size("the image", source.size, max_pixels)
        return _decode(source, "the image", max_side)
    refuse_url(source)
    path = Path(source)
    with _open_image(path, max_pixels) as image:
        return _decode(image, path.name, max_side)
