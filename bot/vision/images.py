"""What the reader accepts: a PNG, JPEG or WebP picture of at most 5 MB, known by its bytes.

The file's name and the declared content type are never trusted: the first bytes name the
format, then Pillow decodes the whole picture (a truncated or forged file fails here, not in
the OCR engine). Pillow's decompression-bomb guard is tightened to what a phone produces.
"""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Optional

from PIL import Image, ImageFile

MAX_IMAGE_BYTES = 5 * 1024 * 1024
# A tall phone screenshot is about 1440 × 3200 (4.6 MP); a photo of a screen up to ~50 MP.
MAX_PIXELS = 50_000_000
MIN_SIDE = 16


class ImageRejected(ValueError):
    """A file the reader refuses; `status` is the HTTP status the API answers with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class CheckedImage:
    format: str  # "png", "jpeg" or "webp"
    image: Image.Image  # decoded, RGB


def sniff_format(data: bytes) -> Optional[str]:
    """The format named by the file's first bytes (magic numbers), or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def check_image(data: bytes) -> CheckedImage:
    """The decoded picture, or ImageRejected: 400 empty/corrupt, 413 too large, 415 not PNG/JPEG/WebP."""
    if not data:
        raise ImageRejected(400, "the image is empty")
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageRejected(413, f"the image is too large: {len(data)} bytes (max {MAX_IMAGE_BYTES})")
    fmt = sniff_format(data)
    if fmt is None:
        raise ImageRejected(415, "only PNG, JPEG or WebP pictures can be read")
    # Process-wide in Pillow, and some libraries (WeasyPrint) turn it on when imported.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[fmt.upper()]) as probe:
                width, height = probe.size
                if width * height > MAX_PIXELS:
                    raise ImageRejected(413, f"the picture has too many pixels: {width}×{height}")
                probe.load()  # decodes everything: a truncated file fails now
                image = probe.convert("RGB")
    except ImageRejected:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombWarning, Image.DecompressionBombError) as err:
        raise ImageRejected(400, f"the {fmt.upper()} file could not be decoded") from err
    if min(image.size) < MIN_SIDE:
        raise ImageRejected(400, f"the picture is too small to read ({image.size[0]}×{image.size[1]})")
    return CheckedImage(fmt, image)
