"""QR codes on screen: a promotion's short tracked link drawn where a phone can scan it.

`draw_qr` draws into a box the caller chooses (a zone's corner, or the full-screen corner
of `corner_box`), black modules on white with the standard quiet zone of four modules
around them (ISO/IEC 18004 §9.1: without it phone cameras often fail to find the code).
Modules are whole pixels, never resampled, so the edges stay sharp. A box too small for
`MIN_MODULE_PX` modules gets no code and a logged reason: a code that cannot be scanned
from where people stand only invites frustration.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import segno
from PIL import Image, ImageDraw

from signage_player.textfit import ellipsise, font, line_height, text_width

log = logging.getLogger(__name__)

Box = tuple[int, int, int, int]  # left, top, right, bottom, as Pillow takes it

QUIET_ZONE_MODULES = 4
# Phone cameras resolve a module of ~0.5 mm at arm's length; 4 px on a 1080p 55" screen
# (0.63 mm pixels) is 2.5 mm, scannable from 1-2 m. Smaller is refused.
MIN_MODULE_PX = 4
# Medium error correction (15 %) survives glare and a little dirt on the glass.
ERROR_LEVEL = "m"
WHITE = (255, 255, 255)
DARK = (0, 0, 0)
# The share of a full-screen canvas's shorter side the corner code takes.
CORNER_SHARE = 0.3
MIN_CAPTION_PX = 12


@dataclass(frozen=True)
class QrPlacement:
    """Where the code and its caption went, so a caller (or a test) can check it."""

    code_box: Box  # the white square, quiet zone included
    module_px: int
    caption_box: Box | None


def qr_modules(url: str) -> list[list[bool]]:
    """The code's dark/light modules, without the quiet zone."""
    code = segno.make_qr(url, error=ERROR_LEVEL, boost_error=False)
    return [[bool(cell) for cell in row] for row in code.matrix]


def draw_qr(image: Image.Image, box: Box, url: str, caption: str = "") -> QrPlacement | None:
    """Draw `url` as a QR code, centred in `box`, with `caption` below it (in place).

    Returns where it drew, or None (logged) when the box is too small for a scannable code.
    """
    left, top, right, bottom = box
    width, height = right - left, bottom - top
    modules = qr_modules(url)
    side_modules = len(modules) + 2 * QUIET_ZONE_MODULES
    caption_px = _caption_px(min(width, height), side_modules) if caption else 0
    caption_h = line_height(font(caption_px, bold=True)) if caption else 0
    module_px = min(width, height - caption_h) // side_modules
    if module_px < MIN_MODULE_PX:
        log.warning(
            "QR code for %s skipped: a %dx%d box gives %d px modules, under the %d px a "
            "phone needs",
            url,
            width,
            height,
            max(module_px, 0),
            MIN_MODULE_PX,
        )
        return None
    side_px = side_modules * module_px
    x = left + (width - side_px) // 2
    y = top + (height - side_px - caption_h) // 2
    code = _code_image(modules, module_px)
    image.paste(code, (x, y))
    caption_box = None
    if caption:
        caption_box = (x, y + side_px, x + side_px, y + side_px + caption_h)
        _draw_caption(image, caption_box, caption, caption_px)
    return QrPlacement((x, y, x + side_px, y + side_px), module_px, caption_box)


def corner_box(size: tuple[int, int]) -> Box:
    """The bottom-right corner a full-screen item's code goes in."""
    side = int(min(size) * CORNER_SHARE)
    margin = max(8, side // 12)
    return (size[0] - side - margin, size[1] - side - margin, size[0] - margin, size[1] - margin)


def _caption_px(box_side: int, side_modules: int) -> int:
    # About three modules tall: legible under the code, never taller than the code needs.
    return max(MIN_CAPTION_PX, round(box_side / side_modules * 2.6))


def _code_image(modules: list[list[bool]], module_px: int) -> Image.Image:
    count = len(modules)
    pixels = Image.new("L", (count, count), 255)
    pixels.putdata([0 if dark else 255 for row in modules for dark in row])
    scaled = pixels.resize((count * module_px, count * module_px), Image.Resampling.NEAREST)
    side = (count + 2 * QUIET_ZONE_MODULES) * module_px
    code = Image.new("RGB", (side, side), WHITE)
    offset = QUIET_ZONE_MODULES * module_px
    code.paste(scaled.convert("RGB"), (offset, offset))
    return code


def _draw_caption(image: Image.Image, box: Box, caption: str, caption_px: int) -> None:
    draw = ImageDraw.Draw(image)
    draw.rectangle(box, fill=WHITE)
    width = box[2] - box[0] - 4
    # Shrink a long caption (a typed-out link) to fit under the code, then cut it.
    face = font(caption_px, bold=True)
    while text_width(caption, face) > width and caption_px > MIN_CAPTION_PX:
        caption_px -= 1
        face = font(caption_px, bold=True)
    line = caption if text_width(caption, face) <= width else ellipsise(caption, face, width)
    x = box[0] + 2 + (width - text_width(line, face)) / 2
    draw.text((x, box[1]), line, font=face, fill=DARK)
