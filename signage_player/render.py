"""Rendering with Pillow: files and messages in, a frame the size of the screen's canvas out.

Pure apart from reading the asset file it is given: no display, clock or network. Every
function returns a new RGB image exactly `size` pixels, or raises `RenderError`; the player
turns a `RenderError` into a black frame (fail-black), never a partial one.
"""

from __future__ import annotations

import io
import logging
import math
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageOps, UnidentifiedImageError

from devices.protocol import Alert, Fit, Severity, TextSlide
from devices.protocol.layouts import QrCode
from signage_player.qr import corner_box, draw_qr
from signage_player.textfit import (
    ALERT_FLOOR,
    Block,
    TextLayout,
    fit_text,
    layout_slide,
    line_height,
    on_canvas,
    text_width,
)

log = logging.getLogger(__name__)

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
            # exif_transpose copies even an upright image: a frame's worth of memory and
            # time for nothing, on every PNG rendition the CMS sends.
            image = ImageOps.exif_transpose(image_file) if orientation != 1 else image_file
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


def draw_layout(
    layout: TextLayout, background: RGB, foreground: RGB, *, centre: bool = False
) -> Image.Image:
    """Draw laid-out blocks top to bottom (or centred) on a new canvas."""
    size = layout.size
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    y = (size[1] - layout.height_px) // 2 if centre else layout.margin_px
    for laid in layout.blocks:
        face = laid.face
        for line in laid.lines:
            x = (size[0] - text_width(line, face)) / 2 if centre else layout.margin_px
            draw.text((x, y), line, font=face, fill=foreground)
            y += line_height(face)
        y += layout.gap_px
    return image


def draw_blocks(
    size: Size,
    blocks: list[Block],
    background: RGB,
    foreground: RGB,
    *,
    centre: bool = False,
    min_scale: float = ALERT_FLOOR,
) -> Image.Image:
    """Lay text blocks out top to bottom, shrinking them together (down to `min_scale` of
    their designed sizes) until they fit."""
    layout = fit_text(on_canvas(blocks, size), size, min_scale, every_word=False)
    return draw_layout(layout, background, foreground, centre=centre)


def render_text_slide(slide: TextSlide, size: Size, *, title_only: bool = False) -> Image.Image:
    """An event or notice: big title, then date and venue, then the body, wrapped.

    `title_only` (roadside panels, a few hundred pixels wide, read from a moving car) keeps
    the title and the date in large type and drops what would be too small to read. The CMS
    refuses a slide that does not fit (`textfit.layout_slide`); one that still does not
    (a manifest from before that check) is cut with an ellipsis and logged, never crashes.
    """
    layout = layout_slide(slide, size, title_only=title_only)
    if not layout.fits:
        log.warning(
            "text slide %r does not fit %dx%d even at %d%% of its size; cut with an ellipsis",
            slide.title[:60],
            size[0],
            size[1],
            round(layout.scale * 100),
        )
    return draw_layout(
        layout,
        hex_colour(slide.background),
        hex_colour(slide.foreground),
        centre=title_only,
    )


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


def with_qr(frame: Image.Image, qr: QrCode | None) -> Image.Image:
    """A full-screen item's frame with its QR code in the bottom-right corner (issue 14)."""
    if qr is not None:
        draw_qr(frame, corner_box(frame.size), qr.url, qr.caption)
    return frame


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
