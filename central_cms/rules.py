"""Screen-profile content rules (roadside LED and the like). Pure.

The CMS refuses a campaign that breaks a rule of any screen profile it targets, and
each violation names the item, the profile and the rule in words staff can act on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from central_cms.specs import ItemSpec
from devices.protocol import ItemKind, TextSlide
from signage_player.textfit import (
    Block,
    LaidBlock,
    TextLayout,
    fit_text,
    layout_slide,
    shrink_floor,
    slide_blocks,
)


@dataclass(frozen=True)
class ProfileRules:
    profile_id: str
    name: str
    min_dwell_s: float = 0
    allow_video: bool = True
    forbid_contact_text: bool = False  # no QR codes, phone numbers or URLs
    # The player's canvas, for measuring text slides with its renderer (None: not a screen
    # the player draws, such as the Wi-Fi splash, which lays text out in the browser).
    canvas_px: tuple[int, int] | None = None
    title_only: bool = False  # roadside: the player shows only the title and the date


@dataclass(frozen=True)
class RuleViolation:
    item_number: int  # 1-based, as staff see the list
    item_label: str
    profile: str
    rule: str
    fix: str
    field: str = ""  # the item's field to change ("title", "body"), to show the message beside
    source: str = ""  # "" for a campaign's own items, else the playlist (“Foyer loop”)

    def __str__(self) -> str:
        label = f" ({self.item_label})" if self.item_label else ""
        item = f"{self.source}, item" if self.source else "Item"
        return (
            f"{item} {self.item_number}{label} breaks the rule “{self.rule}” "
            f"of {self.profile}: {self.fix}"
        )


_URL = re.compile(
    r"(https?://|www\.|\b[a-z0-9-]+\.(com|org|net|gov|edu|au|io|info|biz)\b|\S+@\S+\.\w+)",
    re.IGNORECASE,
)
_PHONE = re.compile(
    r"(\+?\d[\d\s().-]{6,}\d)|\b1[38]00?\s?\d{2,3}\s?\d{2,3}\b|\b13\s?\d{2}\s?\d{2}\b"
)
_QR = re.compile(r"\bQR\b", re.IGNORECASE)


def _contact_problem(text: str) -> str | None:
    if _QR.search(text):
        return "a QR code"
    if _URL.search(text):
        return "a web or email address"
    digits = [m.group(0) for m in _PHONE.finditer(text)]
    if any(sum(c.isdigit() for c in d) >= 6 for d in digits):
        return "a phone number"
    return None


def check_items(items: Sequence[ItemSpec], profiles: Iterable[ProfileRules]) -> list[RuleViolation]:
    found: list[RuleViolation] = []
    for profile in profiles:
        for number, item in enumerate(items, start=1):
            label = item.label

            def add(
                rule: str,
                fix: str,
                field: str = "",
                number: int = number,
                label: str = label,
                name: str = profile.name,
            ) -> None:
                found.append(RuleViolation(number, label, name, rule, fix, field))

            if item.kind is ItemKind.VIDEO and not profile.allow_video:
                add("still images only", "replace the video with a still image", "media_id")
            if item.duration_s < profile.min_dwell_s:
                add(
                    f"minimum dwell {profile.min_dwell_s:g} s",
                    f"show it for at least {profile.min_dwell_s:g} s (now {item.duration_s:g} s)",
                    "duration_s",
                )
            if profile.forbid_contact_text:
                if item.link_url:
                    add("no QR codes, phone numbers or URLs", "remove the link", "link_url")
                if item.text is not None:
                    words = " ".join(
                        (item.text.title, item.text.body, item.text.when, item.text.venue)
                    )
                    problem = _contact_problem(words)
                    if problem:
                        add(
                            "no QR codes, phone numbers or URLs",
                            f"the text contains {problem}; drivers cannot use it safely",
                            "title" if _contact_problem(item.text.title) else "body",
                        )
            if item.text is not None and profile.canvas_px is not None:
                misfit = text_misfit(item.text, profile.canvas_px, title_only=profile.title_only)
                if misfit is not None:
                    add(TEXT_FITS, misfit.fix, misfit.field)
    return found


# --- text that does not fit (issue 13, point 18) ---------------------------------------------

TEXT_FITS = "all the text fits the screen"
# The slide's parts as the player designs them -> the editor's field to change.
_FIELD_OF_BLOCK = {"title": "title", "date": "when", "date and venue": "when", "text": "body"}


@dataclass(frozen=True)
class TextMisfit:
    field: str  # the TextSlide field to shorten
    fix: str


def text_misfit(
    slide: TextSlide, canvas: tuple[int, int], *, title_only: bool
) -> TextMisfit | None:
    """Measure the slide with the player's own layout and fonts; None when it all shows.

    The fix says what the screen would show instead, how much to cut, and whether ticking
    "shrink to fit" would be enough."""
    layout = layout_slide(slide, canvas, title_only=title_only)
    if layout.fits:
        return None
    blocks = slide_blocks(slide, title_only=title_only)
    floor = shrink_floor(blocks, canvas)
    culprit = next((b for b in layout.blocks if not b.fits), layout.blocks[-1])
    screen = f"the {canvas[0]}x{canvas[1]} screen"
    what = _what_is_wrong(culprit, layout, screen)
    index = next(i for i, b in enumerate(blocks) if b.name == culprit.block.name)
    chars = _longest_fitting(blocks, index, canvas, layout.scale)
    shorten = f"shorten the {culprit.block.name} to about {chars} characters"
    if chars == 0:
        shorten = f"shorten the {culprit.block.name}"
    if slide.shrink_to_fit:
        fix = f"even shrunk to the smallest readable size, {what}; {shorten}"
    else:
        shrunk = fit_text(blocks, canvas, floor)
        if shrunk.fits:
            px = min(b.font_px for b in shrunk.blocks)
            fix = f"{what}; {shorten}, or tick “Shrink to fit” (it would show at {px} px)"
        else:
            fix = f"{what}; {shorten} (even “Shrink to fit” would not make it fit)"
    return TextMisfit(_FIELD_OF_BLOCK.get(culprit.block.name, "title"), fix)


def _what_is_wrong(culprit: LaidBlock, layout: TextLayout, screen: str) -> str:
    name, px = culprit.block.name, culprit.font_px
    if culprit.too_wide is not None:
        return f"“{culprit.too_wide}” in the {name} is wider than {screen} at {px} px"
    drawn = next((b for b in layout.blocks if b.block.name == name), None)
    shown = " ".join(drawn.lines) if drawn is not None else ""
    if len(shown) > 50:
        shown = "…" + shown[-49:]
    cut = f", so the screen would cut it off at “{shown}”" if shown else ""
    if culprit.needed_lines > culprit.max_lines:
        return (
            f"the {name} needs {culprit.needed_lines} lines at {px} px and {screen} has room "
            f"for {culprit.max_lines}{cut}"
        )
    return (
        f"the text needs {layout.needed_height_px} px of height and {screen} has "
        f"{layout.room_px} px{cut}"
    )


def _longest_fitting(blocks: list[Block], index: int, canvas: tuple[int, int], scale: float) -> int:
    """How many characters of block `index` (whole words) fit with the others unchanged."""
    words = blocks[index].text.split()

    def fits(count: int) -> bool:
        trial = list(blocks)
        trial[index] = replace(blocks[index], text=" ".join(words[:count]))
        return fit_text(trial, canvas, scale).fits

    low, high = 0, len(words)  # fits(low) is assumed; find the largest count that fits
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return len(" ".join(words[:low]))
