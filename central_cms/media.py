"""Uploads checked and cleaned with Pillow; thumbnails and per-profile renditions. Pure:
bytes in, bytes out (the blob store in `blobs.py` writes them).

* Images: only PNG, JPEG, WebP and GIF decoders are tried; more pixels than the limit
  is refused before decoding (decompression bombs); EXIF orientation is applied and
  every bit of metadata (EXIF, GPS, ICC, comments) is dropped by re-encoding.
* Videos (MP4, WebM) are recognised by their signature and stored as they are; they
  get a generated poster thumbnail.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageOps, UnidentifiedImageError

from devices.protocol import Fit

IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "GIF")
_CONTENT_TYPES = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "WEBP": "image/webp",
    "GIF": "image/gif",
}
THUMBNAIL_PX = (320, 180)


class MediaError(Exception):
    """An upload we refuse; `message` is shown to staff as it is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Encoded:
    data: bytes
    content_type: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class CheckedUpload:
    kind: str  # "image" or "video"
    original: Encoded  # cleaned image, or the video as uploaded
    thumbnail: Encoded
    width_px: int | None
    height_px: int | None


def _video_type(data: bytes) -> str | None:
    if len(data) >= 12 and data[4:8] == b"ftyp":
        return "video/mp4"
    if data[:4] == b"\x1a\x45\xdf\xa3":
        return "video/webm"
    return None


def _png(image: Image.Image) -> Encoded:
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return Encoded(out.getvalue(), "image/png")


def _jpeg(image: Image.Image) -> Encoded:
    out = io.BytesIO()
    image.convert("RGB").save(out, format="JPEG", quality=90)
    return Encoded(out.getvalue(), "image/jpeg")


def check_upload(data: bytes, *, max_pixels: int) -> CheckedUpload:
    """Validate and clean one upload, or raise MediaError saying what is wrong."""
    if not data:
        raise MediaError("The file is empty.")
    video = _video_type(data)
    if video is not None:
        return CheckedUpload("video", Encoded(data, video), video_poster(), None, None)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
            width, height = probe.size
            if width * height > max_pixels:
                raise MediaError(
                    f"The image is {width}x{height} pixels; the limit is "
                    f"{max_pixels // 1_000_000} megapixels. Make it smaller and upload again."
                )
            fmt = probe.format or "PNG"
            probe.load()
            image = ImageOps.exif_transpose(probe)
    except MediaError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise MediaError("The image has too many pixels to be safe to open.") from None
    except UnidentifiedImageError:
        raise MediaError(
            "This file is not a picture we accept. Use PNG, JPEG, WebP or GIF for images, "
            "MP4 or WebM for video."
        ) from None
    except (OSError, SyntaxError, ValueError) as error:
        raise MediaError(f"The image is damaged and cannot be read ({error}).") from None
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert(
            "RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB"
        )
    # Re-encoding with a fresh image drops EXIF, GPS, ICC profiles and comments.
    clean = Image.new(image.mode, image.size)
    clean.paste(image)
    original = _jpeg(clean) if fmt == "JPEG" and clean.mode == "RGB" else _png(clean)
    return CheckedUpload("image", original, thumbnail(clean), clean.width, clean.height)


def _parse_colour(colour: str) -> tuple[int, int, int]:
    value = colour.lstrip("#")
    return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))


def fitted(
    image: Image.Image, width: int, height: int, fit: Fit, background: str = "#000000"
) -> Image.Image:
    """The image on a `width`x`height` canvas: whole (fit/letterbox) or cropped (fill)."""
    source = image.convert("RGB") if image.mode not in ("RGB", "RGBA") else image
    if fit is Fit.FILL:
        return ImageOps.fit(source, (width, height), Image.Resampling.LANCZOS).convert("RGB")
    fill = (0, 0, 0) if fit is Fit.LETTERBOX else _parse_colour(background)
    canvas = Image.new("RGB", (width, height), fill)
    contained = ImageOps.contain(source, (width, height), Image.Resampling.LANCZOS)
    offset = ((width - contained.width) // 2, (height - contained.height) // 2)
    canvas.paste(contained, offset, contained if contained.mode == "RGBA" else None)
    return canvas


def rendition(
    data: bytes, width: int, height: int, fit: Fit, background: str = "#000000"
) -> Encoded:
    """The stored (already checked) image made for one screen canvas, as PNG."""
    with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as image:
        image.load()
        return _png(fitted(image, width, height, fit, background))


def thumbnail(image: Image.Image) -> Encoded:
    return _png(fitted(image, *THUMBNAIL_PX, Fit.FIT, "#e8eef5"))


def video_poster() -> Encoded:
    """A neutral thumbnail for videos (we do not decode video on the server)."""
    canvas = Image.new("RGB", THUMBNAIL_PX, (40, 48, 64))
    draw = ImageDraw.Draw(canvas)
    w, h = THUMBNAIL_PX
    draw.polygon(
        [(w // 2 - 25, h // 2 - 30), (w // 2 - 25, h // 2 + 30), (w // 2 + 30, h // 2)],
        fill=(255, 255, 255),
    )
    return _png(canvas)
