"""Rendering with Pillow: files and messages in, a frame the size of the screen's canvas out.

Pure apart from reading the asset file it is given: no display, clock or network. Every
function returns a new RGB image exactly `size` pixels, or raises `RenderError`; the player
turns a `RenderError` into a black frame (fail-black), never a partial one.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from devices.protocol import Alert, Fit, Severity, TextSlide

FONT_DIR = Path(__file__).with_name("fonts")
REGULAR_FONT = FONT_DIR / "DejaVuSans.ttf"
BOLD_FONT = FONT_DIR / "DejaVuSans-Bold.ttf"

# Decoders we accept; anything else in the cache is refused rather than guessed at.
IMAGE_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
# A verified asset still comes from a person's upload: refuse absurd pixel counts before
# decoding (Pillow's own bomb check is a process-wide setting we leave alone).
MAX_SOURCE_PIXELS = 120_000_000

BLACK = (0, 0, 0)

Size = tuple[int, int]
RGB = tuple[int, int, int]

# Orientation tags 5-8 swap width and height (EXIF 0x0112).
_EXIF_ORIENTATION = 0x0112
_TRANSPOSED = {5, 6, 7, 8}


class RenderError(Exception):
    """The frame could not be made; the player shows black instead."""


@dataclass(frozen=True)
class AlertColours:
    background: RGB
    foreground: RGB


ALERT_COLOURS: dict[Severity, AlertColours] = {
    Severity.INFO: AlertColours(background=(0, 58, 112), foreground=(255, 255, 255)),
    Severity.WARNING: AlertColours(background=(255, 196, 0), foreground=(0, 0, 0)),
    Severity.EMERGENCY: AlertColours(background=(190, 0, 0), foreground=(255, 255, 255)),
}


def hex_colour(value: str) -> RGB:
    """`#rrggbb` as an RGB tuple (the protocol has already checked the pattern)."""
    return (int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16))


def black(size: Size) -> Image.Image:
    return Image.new("RGB", size, BLACK)


# --- images ---------------------------------------------------------------------------------


def render_image(source: Path | bytes, size: Size, fit: Fit, bars: RGB = BLACK) -> Image.Image:
    """Decode an image (a file, or its bytes already read and checked) straight to the canvas.

    JPEGs are decoded at a reduced scale (`Image.draft`) when the canvas is much smaller
    than the photo, which is most of the decoding time saved. EXIF orientation is applied,
    so a phone photo is upright. `bars` colours the space `Fit.FIT` leaves;
    `Fit.LETTERBOX` always uses black.
    """
    name = source.name if isinstance(source, Path) else f"{len(source)}-byte image"
    opened = source if isinstance(source, Path) else io.BytesIO(source)
    try:
        with Image.open(opened, formats=IMAGE_FORMATS) as image_file:
            if image_file.width * image_file.height > MAX_SOURCE_PIXELS:
                raise RenderError(
                    f"{name}: {image_file.width}x{image_file.height} is over "
                    f"{MAX_SOURCE_PIXELS} pixels"
                )
            orientation = image_file.getexif().get(_EXIF_ORIENTATION, 1)
            upright = (
                (image_file.height, image_file.width)
                if orientation in _TRANSPOSED
                else (image_file.width, image_file.height)
            )
            if image_file.format == "JPEG":
                target = _scaled(upright, size, fit)
                # draft works on stored (not yet rotated) dimensions.
                if orientation in _TRANSPOSED:
                    target = (target[1], target[0])
                image_file.draft("RGB", target)
            image = ImageOps.exif_transpose(image_file)
            image = image.convert("RGB") if image.mode != "RGB" else image
            image.load()
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as error:
        raise RenderError(f"{name}: {error}") from error
    return place(image, size, fit, bars)


def _scaled(source: Size, size: Size, fit: Fit) -> Size:
    """The size the source is resized to so that it fits in, or covers, the canvas."""
    sw, sh = source
    cw, ch = size
    scale = max(cw / sw, ch / sh) if fit is Fit.FILL else min(cw / sw, ch / sh)
    return (max(1, math.ceil(sw * scale)), max(1, math.ceil(sh * scale)))


def place(image: Image.Image, size: Size, fit: Fit, bars: RGB = BLACK) -> Image.Image:
    """Resize a decoded image onto a canvas of `size` by the item's fit."""
    if image.size == size:
        return image if image.mode == "RGB" else image.convert("RGB")
    # After a JPEG draft the image is within 2x of the canvas, where bilinear is as sharp
    # as Lanczos to the eye and takes about half the time; larger reductions (PNG, WebP,
    # which have no draft mode) keep Lanczos.
    resample = (
        Image.Resampling.LANCZOS
        if image.width > 2 * size[0] and image.height > 2 * size[1]
        else Image.Resampling.BILINEAR
    )
    if fit is Fit.FILL:
        return ImageOps.fit(image.convert("RGB"), size, resample)
    width, height = _scaled(image.size, size, fit)
    width, height = min(width, size[0]), min(height, size[1])
    resized = image.convert("RGB").resize((width, height), resample)
    canvas = Image.new("RGB", size, BLACK if fit is Fit.LETTERBOX else bars)
    canvas.paste(resized, ((size[0] - width) // 2, (size[1] - height) // 2))
    return canvas


# --- text -----------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def font(px: int, *, bold: bool = False) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(BOLD_FONT if bold else REGULAR_FONT), size=max(6, px))


def _text_width(text: str, face: ImageFont.FreeTypeFont) -> float:
    return face.getlength(text)


def wrap(text: str, face: ImageFont.FreeTypeFont, width_px: int) -> list[str]:
    """Break text into lines no wider than `width_px`, keeping the author's line breaks.
    A single word wider than the line is broken by characters rather than overflowing."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        words = paragraph.split()
        if not words:
            lines.append("")
            continue
        line = ""
        for word in words:
            candidate = f"{line} {word}" if line else word
            if _text_width(candidate, face) <= width_px:
                line = candidate
                continue
            if line:
                lines.append(line)
            line = word
            while _text_width(line, face) > width_px and len(line) > 1:
                cut = len(line) - 1
                while cut > 1 and _text_width(line[:cut], face) > width_px:
                    cut -= 1
                lines.append(line[:cut])
                line = line[cut:]
        lines.append(line)
    return lines


@dataclass(frozen=True)
class Block:
    """One run of text in a slide: its content, size as a share of the canvas height, weight."""

    text: str
    height_share: float
    bold: bool = False
    max_lines: int = 6


def _layout(
    blocks: list[Block], size: Size, margin: int, scale: float
) -> list[tuple[Block, list[str], ImageFont.FreeTypeFont]]:
    width_px = size[0] - 2 * margin
    laid = []
    for block in blocks:
        face = font(round(size[1] * block.height_share * scale), bold=block.bold)
        lines = wrap(block.text, face, width_px)
        if len(lines) > block.max_lines:
            lines = lines[: block.max_lines]
            lines[-1] = _ellipsise(lines[-1], face, width_px)
        laid.append((block, lines, face))
    return laid


def _ellipsise(line: str, face: ImageFont.FreeTypeFont, width_px: int) -> str:
    while line and _text_width(line + "…", face) > width_px:
        line = line[:-1]
    return line.rstrip() + "…"


def _line_height(face: ImageFont.FreeTypeFont) -> int:
    ascent, descent = face.getmetrics()
    return math.ceil((ascent + descent) * 1.15)


def _block_height(laid: list[tuple[Block, list[str], ImageFont.FreeTypeFont]], gap: int) -> int:
    total = 0
    for _, lines, face in laid:
        total += _line_height(face) * len(lines)
    return total + gap * max(0, len(laid) - 1)


def draw_blocks(
    size: Size,
    blocks: list[Block],
    background: RGB,
    foreground: RGB,
    *,
    centre: bool = False,
) -> Image.Image:
    """Lay text blocks out top to bottom, shrinking them together until they fit."""
    margin = max(2, round(min(size) * 0.06))
    gap = max(1, round(size[1] * 0.03))
    blocks = [block for block in blocks if block.text.strip()]
    scale = 1.0
    laid = _layout(blocks, size, margin, scale)
    while _block_height(laid, gap) > size[1] - 2 * margin and scale > 0.3:
        scale *= 0.9
        laid = _layout(blocks, size, margin, scale)
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    height = _block_height(laid, gap)
    y = (size[1] - height) // 2 if centre else margin
    for _, lines, face in laid:
        for line in lines:
            x = (size[0] - _text_width(line, face)) / 2 if centre else margin
            draw.text((x, y), line, font=face, fill=foreground)
            y += _line_height(face)
        y += gap
    return image


def render_text_slide(slide: TextSlide, size: Size, *, title_only: bool = False) -> Image.Image:
    """An event or notice: big title, then date and venue, then the body, wrapped.

    `title_only` (roadside panels, a few hundred pixels wide, read from a moving car) keeps
    the title and the date in large type and drops what would be too small to read.
    """
    if title_only:
        blocks = [
            Block(slide.title, 0.26, bold=True, max_lines=2),
            Block(slide.when, 0.18, bold=True, max_lines=1),
        ]
        return draw_blocks(
            size,
            blocks,
            hex_colour(slide.background),
            hex_colour(slide.foreground),
            centre=True,
        )
    details = "\n".join(part for part in (slide.when, slide.venue) if part)
    blocks = [
        Block(slide.title, 0.11, bold=True, max_lines=3),
        Block(details, 0.06, bold=True, max_lines=3),
        Block(slide.body, 0.05, max_lines=8),
    ]
    return draw_blocks(size, blocks, hex_colour(slide.background), hex_colour(slide.foreground))


def render_alert(alert: Alert, size: Size, *, title_only: bool = False) -> Image.Image:
    """An alert in its severity's colours. Roadside screens show only the title, large,
    because a driver has a second or two to read it."""
    colours = ALERT_COLOURS[alert.severity]
    if title_only:
        blocks = [Block(alert.title, 0.34, bold=True, max_lines=3)]
    else:
        label = {
            Severity.INFO: "NOTICE",
            Severity.WARNING: "WARNING",
            Severity.EMERGENCY: "EMERGENCY",
        }
        blocks = [
            Block(label[alert.severity], 0.06, bold=True, max_lines=1),
            Block(alert.title, 0.12, bold=True, max_lines=3),
            Block(alert.body, 0.06, max_lines=8),
        ]
    return draw_blocks(size, blocks, colours.background, colours.foreground, centre=True)


def render_identify(device_id: str, site_name: str, size: Size) -> Image.Image:
    """What the `identify` command shows: which device this is, large enough to read from
    across a foyer or from a roadside maintenance truck."""
    blocks = [
        Block(device_id, 0.12, bold=True, max_lines=3),
        Block(site_name, 0.08, max_lines=2),
    ]
    return draw_blocks(size, blocks, (255, 255, 255), (0, 0, 0), centre=True)


# --- output ---------------------------------------------------------------------------------


def to_output(frame: Image.Image, mode: Size, *, pixel_exact: bool) -> Image.Image:
    """Put a canvas-sized frame on an output mode.

    A roadside LED sending card captures a fixed rectangle at the top-left of the video
    output, pixel for pixel, so `pixel_exact` canvases go there unscaled with the rest
    black. Indoor canvases are scaled to fit the mode (normally they are the same size).
    """
    if frame.size == mode:
        return frame
    if pixel_exact:
        output = Image.new("RGB", mode, BLACK)
        output.paste(frame.crop((0, 0, min(frame.width, mode[0]), min(frame.height, mode[1]))))
        return output
    return place(frame, mode, Fit.LETTERBOX)
