"""Text layout with the player's own fonts: which lines go on the canvas, at what size, and
whether everything the author wrote fits. Pure (fonts are bundled files read once).

One home for the measurement (issue 13, point 18): the renderer draws what `fit_text`
returns, and the CMS refuses a slide whose layout does not fit before it reaches a screen,
so what staff are told is exactly what the screen will do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

from devices.protocol import TextSlide

FONT_DIR = Path(__file__).with_name("fonts")
REGULAR_FONT = FONT_DIR / "DejaVuSans.ttf"
BOLD_FONT = FONT_DIR / "DejaVuSans-Bold.ttf"

Size = tuple[int, int]

# A 10 px DejaVu capital is 7 px tall: the 5x7 matrix that LED signs treat as the smallest
# character still read as a letter. Nothing is shrunk below it.
MIN_LEGIBLE_PX = 10
# "Shrink to fit" goes down to half the designed size (and never under MIN_LEGIBLE_PX):
# smaller, and the slide no longer reads as it was designed, from where people stand.
SHRINK_FLOOR = 0.5
# Alerts must show whatever their length, so they keep the older, deeper shrink.
ALERT_FLOOR = 0.3
SHRINK_STEP = 0.95
ELLIPSIS = "…"


@lru_cache(maxsize=64)
def font(px: int, *, bold: bool = False) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(BOLD_FONT if bold else REGULAR_FONT), size=max(6, px))


def text_width(text: str, face: ImageFont.FreeTypeFont) -> float:
    return face.getlength(text)


def line_height(face: ImageFont.FreeTypeFont) -> int:
    ascent, descent = face.getmetrics()
    return math.ceil((ascent + descent) * 1.15)


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
            if text_width(candidate, face) <= width_px:
                line = candidate
                continue
            if line:
                lines.append(line)
            line = word
            while text_width(line, face) > width_px and len(line) > 1:
                cut = len(line) - 1
                while cut > 1 and text_width(line[:cut], face) > width_px:
                    cut -= 1
                lines.append(line[:cut])
                line = line[cut:]
        lines.append(line)
    return lines


def ellipsise(line: str, face: ImageFont.FreeTypeFont, width_px: int) -> str:
    while line and text_width(line + ELLIPSIS, face) > width_px:
        line = line[:-1]
    return line.rstrip() + ELLIPSIS


@dataclass(frozen=True)
class Block:
    """One run of text in a slide: its content, size as a share of the canvas height, weight,
    and how many lines it may take at its designed size."""

    text: str
    height_share: float
    bold: bool = False
    max_lines: int = 6
    name: str = "text"  # what staff call the field ("title"), for messages


@dataclass(frozen=True)
class LaidBlock:
    """A block laid out at one size: the lines to draw and what the whole text needed."""

    block: Block
    font_px: int
    lines: tuple[str, ...]  # what is drawn (ends in an ellipsis when cut)
    needed_lines: int  # lines the whole text takes at this size
    max_lines: int  # lines it may take at this size
    too_wide: str | None  # a word wider than the line, which wrapping would break

    @property
    def fits(self) -> bool:
        return self.needed_lines <= self.max_lines and self.too_wide is None

    @property
    def face(self) -> ImageFont.FreeTypeFont:
        return font(self.font_px, bold=self.block.bold)


@dataclass(frozen=True)
class TextLayout:
    """Blocks laid out top to bottom in a canvas at one scale of their designed sizes."""

    size: Size
    scale: float
    margin_px: int
    gap_px: int
    blocks: tuple[LaidBlock, ...]
    needed_height_px: int  # height of every line of every block
    capped_height_px: int  # height with each block cut at its line limit
    room_px: int  # height inside the margins

    @property
    def fits(self) -> bool:
        """Every word shows, none is broken, and it all fits inside the margins."""
        return all(b.fits for b in self.blocks) and self.needed_height_px <= self.room_px

    @property
    def width_px(self) -> int:
        return self.size[0] - 2 * self.margin_px

    @property
    def height_px(self) -> int:
        return _height(self.blocks, self.gap_px, drawn=True)


def _height(blocks: tuple[LaidBlock, ...] | list[LaidBlock], gap: int, *, drawn: bool) -> int:
    total = sum(line_height(b.face) * (len(b.lines) if drawn else b.needed_lines) for b in blocks)
    return total + gap * max(0, len(blocks) - 1)


def layout_block(block: Block, font_px: int, width_px: int, max_lines: int) -> LaidBlock:
    """Lay one block into lines `width_px` wide at `font_px`; cut at `max_lines` with an
    ellipsis. The pure "does this text fit this box at this size" step."""
    face = font(font_px, bold=block.bold)
    lines = wrap(block.text, face, width_px)
    too_wide = next((w for w in block.text.split() if text_width(w, face) > width_px), None)
    drawn = lines
    if len(lines) > max_lines:
        drawn = lines[:max_lines]
        drawn[-1] = ellipsise(drawn[-1], face, width_px)
    return LaidBlock(block, font_px, tuple(drawn), len(lines), max_lines, too_wide)


def layout_text(blocks: list[Block], size: Size, scale: float = 1.0) -> TextLayout:
    """Blocks at `scale` of their designed sizes. A smaller size may take as many more lines
    as fit in the same space; whatever still does not fit is cut with an ellipsis."""
    margin = max(2, round(min(size) * 0.06))
    gap = max(1, round(size[1] * 0.03))
    width_px = size[0] - 2 * margin
    room = size[1] - 2 * margin
    laid = [
        layout_block(
            block,
            font_px(block, size, scale),
            width_px,
            max(block.max_lines, math.floor(block.max_lines / scale + 1e-9)),
        )
        for block in blocks
        if block.text.strip()
    ]
    needed = _height(laid, gap, drawn=False)
    capped = _height(laid, gap, drawn=True)
    # Cut from the end until what is drawn stays inside the margins.
    while laid and _height(laid, gap, drawn=True) > room:
        last = laid[-1]
        if len(last.lines) <= 1:
            if len(laid) == 1:
                break  # one line of the first block always shows, even on a tiny canvas
            laid.pop()
            previous = laid[-1]
            lines = (*previous.lines[:-1], ellipsise(previous.lines[-1], previous.face, width_px))
            laid[-1] = _with_lines(previous, lines)
            continue
        lines = (*last.lines[:-2], ellipsise(last.lines[-2], last.face, width_px))
        laid[-1] = _with_lines(last, lines)
    return TextLayout(size, scale, margin, gap, tuple(laid), needed, capped, room)


def _with_lines(laid: LaidBlock, lines: tuple[str, ...]) -> LaidBlock:
    return LaidBlock(
        laid.block, laid.font_px, lines, laid.needed_lines, laid.max_lines, laid.too_wide
    )


def font_px(block: Block, size: Size, scale: float) -> int:
    return round(size[1] * block.height_share * scale)


def shrink_floor(blocks: list[Block], size: Size) -> float:
    """The smallest scale "shrink to fit" may use: half the design, no text under
    MIN_LEGIBLE_PX (or the design itself, if that is already smaller)."""
    sizes = [font_px(b, size, 1.0) for b in blocks if b.text.strip()]
    if not sizes:
        return 1.0
    return min(1.0, max(SHRINK_FLOOR, MIN_LEGIBLE_PX / min(sizes)))


def fit_text(
    blocks: list[Block], size: Size, min_scale: float = 1.0, *, every_word: bool = True
) -> TextLayout:
    """The largest layout from the design size down to `min_scale` in which everything
    fits; if none does, the layout at `min_scale`, cut with an ellipsis.

    `every_word=False` (alerts) stops shrinking as soon as the lines, each block cut at its
    line limit, fit the height: an alert keeps large type rather than every word."""

    def done(layout: TextLayout) -> bool:
        return layout.fits if every_word else layout.capped_height_px <= layout.room_px

    scale = 1.0
    layout = layout_text(blocks, size, scale)
    while not done(layout) and scale * SHRINK_STEP >= min_scale - 1e-9:
        scale *= SHRINK_STEP
        layout = layout_text(blocks, size, scale)
    if not done(layout) and scale > min_scale:
        layout = layout_text(blocks, size, min_scale)
    return layout


def slide_blocks(slide: TextSlide, *, title_only: bool = False) -> list[Block]:
    """The design of a text slide. `title_only` (roadside panels, a few hundred pixels wide,
    read from a moving car) keeps the title and the date in large type and drops the rest."""
    if title_only:
        return [
            Block(slide.title, 0.26, bold=True, max_lines=2, name="title"),
            Block(slide.when, 0.18, bold=True, max_lines=1, name="date"),
        ]
    details = "\n".join(part for part in (slide.when, slide.venue) if part)
    return [
        Block(slide.title, 0.11, bold=True, max_lines=3, name="title"),
        Block(details, 0.06, bold=True, max_lines=3, name="date and venue"),
        Block(slide.body, 0.05, max_lines=8, name="text"),
    ]


def on_canvas(blocks: list[Block], size: Size) -> list[Block]:
    """A full-screen design's blocks for a canvas taller than wide (a portrait screen,
    issue 18): sized by its width, as on a landscape screen that wide, since sizes by the
    height would not fit one word of a title across."""
    width, height = size
    if width >= height:
        return blocks
    return [replace(block, height_share=block.height_share * width / height) for block in blocks]


def layout_slide(slide: TextSlide, size: Size, *, title_only: bool = False) -> TextLayout:
    """How the player lays the slide out: at its design size, or (when staff chose shrink
    to fit) down to the legibility floor, and never smaller."""
    blocks = on_canvas(slide_blocks(slide, title_only=title_only), size)
    floor = shrink_floor(blocks, size) if slide.shrink_to_fit else 1.0
    return fit_text(blocks, size, floor)
