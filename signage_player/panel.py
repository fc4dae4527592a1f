"""The panel a frame goes to (issue 18): turned for a screen mounted on its side, and
switched off outside its power schedule. Pure.

The player draws every frame upright, on the canvas content is laid out for (portrait
for a landscape panel at 90 or 270 degrees, `Manifest.canvas`); `to_panel` turns it
clockwise by the screen's rotation on its way out, and `panel_box` says where a changed
box of the canvas lands on the panel, so a clock's minute is still a small update.
"""

from __future__ import annotations

from PIL import Image

from devices.protocol import DisplayPower
from signage_player.playback import Reason, Screen, Slot

Box = tuple[int, int, int, int]

# Pillow's ROTATE_n turns counter-clockwise; the screen's rotation counts clockwise.
_CLOCKWISE = {
    90: Image.Transpose.ROTATE_270,
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_90,
}


def to_panel(frame: Image.Image, rotation_deg: int) -> Image.Image:
    """`frame` (upright) as the panel shows it: turned clockwise by `rotation_deg`."""
    if rotation_deg == 0:
        return frame
    return frame.transpose(_CLOCKWISE[rotation_deg])


def upright(panel_frame: Image.Image, rotation_deg: int) -> Image.Image:
    """What the panel shows turned back upright (a screenshot staff can read)."""
    if rotation_deg == 0:
        return panel_frame
    return panel_frame.transpose(_CLOCKWISE[360 - rotation_deg])


def panel_box(box: Box, canvas: tuple[int, int], rotation_deg: int) -> Box:
    """Where `box` of the upright canvas lands once the frame is turned clockwise."""
    left, top, right, bottom = box
    width, height = canvas
    if rotation_deg == 90:
        return (height - bottom, left, height - top, right)
    if rotation_deg == 180:
        return (width - right, height - bottom, width - left, height - top)
    if rotation_deg == 270:
        return (top, width - right, bottom, width - left)
    return box


def panel_power(slot: Slot | None) -> DisplayPower:
    """What the panel should be while `slot` shows: off for the display-off command and
    outside the power schedule, on for everything else (an alert wakes it)."""
    if slot is not None and slot.screen is Screen.BLACK:
        if slot.reason is Reason.DISPLAY_OFF:
            return DisplayPower.OFF
        if slot.reason is Reason.SCHEDULED_OFF:
            return DisplayPower.SCHEDULED_OFF
    return DisplayPower.ON
