"""The `[player]` table of the device TOML, read once into a frozen dataclass.

```toml
[player]
display = "framebuffer"            # headless | framebuffer | window
framebuffer = "/dev/fb0"
framebuffer_sysfs = "/sys/class/graphics/fb0"
output = [1920, 1080]              # headless/window output mode; default: the canvas
identify_s = 10
screenshot_max_px = 1920           # longest side of a screenshot sent to the CMS
video = true                       # hand indoor video to mpv when it is installed
video_hwdec = "auto-safe"          # mpv's --hwdec: e.g. "v4l2m2m-copy" or "drm" on a Pi
cec = true                         # panel standby (display-off, power schedule) through
                                   # cec-client when installed; else DPMS (fbdev, or xset)
```
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from devices.config import ConfigError


class DisplayKind(StrEnum):
    HEADLESS = "headless"
    FRAMEBUFFER = "framebuffer"
    WINDOW = "window"


@dataclass(frozen=True)
class PlayerSettings:
    display: DisplayKind = DisplayKind.HEADLESS
    framebuffer: Path = Path("/dev/fb0")
    framebuffer_sysfs: Path = Path("/sys/class/graphics/fb0")
    output: tuple[int, int] | None = None
    identify_s: float = 10.0
    screenshot_max_px: int = 1920
    video: bool = True
    video_hwdec: str = "auto-safe"
    cec: bool = True


_KNOWN = {
    "display",
    "framebuffer",
    "framebuffer_sysfs",
    "output",
    "identify_s",
    "screenshot_max_px",
    "video",
    "video_hwdec",
    "cec",
}
# mpv's --hwdec takes a decoder name or a comma-separated list of them.
_HWDEC = re.compile(r"^[a-z0-9-]+(,[a-z0-9-]+)*$")


def player_settings(table: Mapping[str, object]) -> PlayerSettings:
    """Validate the `[player]` table; a ConfigError names the key and the fix."""
    unknown = sorted(set(table) - _KNOWN)
    if unknown:
        raise ConfigError(
            f"player.{unknown[0]}", "is not a player setting", f"use one of {sorted(_KNOWN)}"
        )
    defaults = PlayerSettings()
    display = table.get("display", defaults.display.value)
    if display not in {kind.value for kind in DisplayKind}:
        raise ConfigError(
            "player.display",
            f"{display!r} is not a display backend",
            'use "headless", "framebuffer" or "window"',
        )
    output = table.get("output")
    if output is not None and not (
        isinstance(output, list)
        and len(output) == 2
        and all(isinstance(v, int) and 16 <= v <= 7680 for v in output)
    ):
        raise ConfigError(
            "player.output", f"{output!r} is not [width, height]", "e.g. [1920, 1080]"
        )
    hwdec = table.get("video_hwdec", defaults.video_hwdec)
    if not isinstance(hwdec, str) or not _HWDEC.match(hwdec):
        raise ConfigError(
            "player.video_hwdec",
            f"{hwdec!r} is not an mpv --hwdec value",
            'e.g. "auto-safe", "v4l2m2m-copy" or "no"',
        )
    return PlayerSettings(
        display=DisplayKind(str(display)),
        framebuffer=_path(table, "framebuffer", defaults.framebuffer),
        framebuffer_sysfs=_path(table, "framebuffer_sysfs", defaults.framebuffer_sysfs),
        output=(int(output[0]), int(output[1])) if isinstance(output, list) else None,
        identify_s=_number(table, "identify_s", defaults.identify_s, 1, 300),
        screenshot_max_px=int(
            _number(table, "screenshot_max_px", defaults.screenshot_max_px, 64, 7680)
        ),
        video=_bool(table, "video", defaults.video),
        video_hwdec=hwdec,
        cec=_bool(table, "cec", defaults.cec),
    )


def _path(table: Mapping[str, object], key: str, default: Path) -> Path:
    value = table.get(key, str(default))
    if not isinstance(value, str) or not value:
        raise ConfigError(f"player.{key}", "must be a path", f'e.g. {key} = "{default}"')
    return Path(value)


def _number(
    table: Mapping[str, object], key: str, default: float, low: float, high: float
) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ConfigError(
            f"player.{key}",
            f"{value!r} is not a number from {low} to {high}",
            f"e.g. {key} = {default}",
        )
    return float(value)


def _bool(table: Mapping[str, object], key: str, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(
            f"player.{key}",
            f"{value!r} is not true or false",
            f"e.g. {key} = {str(default).lower()}",
        )
    return value
