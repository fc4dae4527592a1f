"""Uploads checked and cleaned with Pillow; thumbnails and per-profile renditions. Pure:
bytes in, bytes out (the blob store in `blobs.py` writes them).

* Images: only PNG, JPEG, WebP and GIF decoders are tried; more pixels than the limit
  is refused before decoding (decompression bombs); EXIF orientation is applied and
  every bit of metadata (EXIF, GPS, ICC, comments) is dropped by re-encoding.
* Videos (MP4, WebM) are recognised by their signature, probed by the caller's
  `probe_video` (ffprobe in production: `video_probe.probe`) and refused when a Pi cannot
  decode them in hardware; kept ones are stored as they are, with their probed length,
  codec, size and frame rate, and get a generated poster thumbnail.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps, UnidentifiedImageError

from central_cms.errors import StaffMessage
from central_cms.video_probe import ProbeError, VideoProbe, decode_problem
from devices.protocol import Fit

IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "GIF")
_CONTENT_TYPES = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "WEBP": "image/webp",
    "GIF": "image/gif",
}
THUMBNAIL_PX = (320, 180)


class MediaError(StaffMessage):
    """An upload we refuse; `message` is shown to staff as it is."""


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
    video: VideoProbe | None = None  # what ffprobe found in a video


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


def check_upload(
    data: bytes, *, max_pixels: int, probe_video: Callable[[bytes], VideoProbe]
) -> CheckedUpload:
    """Validate and clean one upload, or raise MediaError saying what is wrong."""
    if not data:
        raise MediaError("The file is empty.")
    video = _video_type(data)
    if video is not None:
        try:
            probed = probe_video(data)
        except ProbeError as error:
            raise MediaError(error.message) from None
        problem = decode_problem(probed)
        if problem is not None:
            raise MediaError(problem)
        return CheckedUpload(
            "video",
            Encoded(data, video),
            video_poster(),
            probed.width_px,
            probed.height_px,
            probed,
        )
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


# From this many pixels a rendition is a JPEG: a player decodes a 1080p PNG in ~70 ms,
# the same frame as JPEG in ~12 ms (issue 14: a 4-zone frame in 100 ms on a Pi). Smaller
# canvases (roadside LED panels, shown pixel for pixel) stay lossless PNG, cheap to
# decode at that size anyway.
JPEG_RENDITION_MIN_PX = 640 * 480


def rendition(
    data: bytes, width: int, height: int, fit: Fit, background: str = "#000000"
) -> Encoded:
    """The stored (already checked) image made for one screen canvas: JPEG for screens
    of a VGA or more (`JPEG_RENDITION_MIN_PX`), PNG below."""
    with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as image:
        image.load()
        made = fitted(image, width, height, fit, background)
    if width * height >= JPEG_RENDITION_MIN_PX:
        return _rendition_jpeg(made)
    return _png(made)


def _rendition_jpeg(image: Image.Image) -> Encoded:
    """Quality 90 without chroma subsampling (4:4:4), so the lettering of a poster keeps
    its coloured edges crisp, at ~1/8 of the PNG's size."""
    out = io.BytesIO()
    image.convert("RGB").save(out, format="JPEG", quality=90, subsampling=0)
    return Encoded(out.getvalue(), "image/jpeg")


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


# --- legibility on small screens (issue 13, point 18) ---------------------------------------

# Analysed at most this long a side: enough to see 10 px print on a 4K poster, and the
# component search below stays well under a second in pure Python.
_LEGIBILITY_WORK_PX = 1600
# Print whose letters come out shorter than this on the canvas is not read; a lower-case
# letter of the player's 10 px minimum type (`signage_player.textfit.MIN_LEGIBLE_PX`) is 5
# to 6 px tall.
MIN_LETTER_PX = 5
_MIN_GLYPHS = 20  # fewer letter-like shapes than this: a photo or a few large words


def small_print_px(data: bytes) -> float | None:
    """How tall the smallest common lettering in a (checked) image is, in its own pixels,
    or None when there is no text-like detail to speak of.

    Letters are small, high-contrast shapes against their surroundings: pixels well darker
    (or lighter) than their neighbourhood are grouped into connected shapes, shapes of
    letter proportions are kept, and the median of their heights is the print's letter
    height (about its lower-case height: most letters have no ascender).
    """
    with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as image:
        gray = image.convert("L")
    scale = min(1.0, _LEGIBILITY_WORK_PX / max(gray.size))
    if scale < 1.0:
        gray = gray.resize(
            (max(1, round(gray.width * scale)), max(1, round(gray.height * scale))),
            Image.Resampling.BOX,
        )
    surround = gray.filter(ImageFilter.BoxBlur(8))
    heights: list[int] = []
    for ink in (ImageChops.subtract(surround, gray), ImageChops.subtract(gray, surround)):
        mask = ink.point(lambda v: 255 if v > 40 else 0)
        heights += _glyph_heights(mask.tobytes(), mask.width, mask.height)
    if len(heights) < _MIN_GLYPHS:
        return None
    heights.sort()
    return heights[len(heights) // 2] / scale


def _glyph_heights(mask: bytes, width: int, height: int) -> list[int]:
    """Heights of the letter-shaped 4-connected shapes of 255s in a row-major mask."""
    if mask.count(255) > len(mask) * 0.35:
        return []  # texture (foliage, crowds), not print
    seen = bytearray(mask)  # 255 = ink not yet visited
    found: list[int] = []
    start = seen.find(255)
    while start != -1:
        seen[start] = 0
        stack = [start]
        top = bottom = start // width
        left = right = start % width
        area = 0
        while stack:
            at = stack.pop()
            area += 1
            y, x = divmod(at, width)
            top, bottom = min(top, y), max(bottom, y)
            left, right = min(left, x), max(right, x)
            for near in (
                at - width,
                at + width,
                at - 1 if x else -1,
                at + 1 if x < width - 1 else -1,
            ):
                if 0 <= near < len(seen) and seen[near]:
                    seen[near] = 0
                    stack.append(near)
        tall, wide = bottom - top + 1, right - left + 1
        # Letters (or letters run together into a word): at least 3 px, thin strokes that
        # fill part of their box, not a line or a blotch.
        if 3 <= tall <= height // 4 and wide <= 12 * tall and 0.1 <= area / (tall * wide) <= 0.9:
            found.append(tall)
        start = seen.find(255, start + 1)
    return found


@dataclass(frozen=True)
class LegibilityWarning:
    letter_px: float  # how tall the small print comes out on the canvas

    def message(self, screen: str) -> str:
        return (
            f"this poster's small print will be {self.letter_px:.0f} px tall on {screen}, "
            f"too small to read (letters need at least {MIN_LETTER_PX} px); "
            "use a design made for that screen, with fewer, larger words"
        )


def legibility(
    small_print: float | None, source: tuple[int, int], canvas: tuple[int, int], fit: Fit
) -> LegibilityWarning | None:
    """Would print `small_print` px tall in a `source`-sized image still be read once the
    player scales the image onto `canvas` by `fit`? None when it would (or there is none)."""
    if small_print is None:
        return None
    ratios = (canvas[0] / source[0], canvas[1] / source[1])
    shown = small_print * (max(ratios) if fit is Fit.FILL else min(ratios))
    return LegibilityWarning(shown) if shown < MIN_LETTER_PX else None
