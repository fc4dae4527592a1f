"""Screen power: HDMI-CEC (`cec-client` from libcec) or DPMS (`xset`), for the display
on/off commands and the power schedule (issue 18).

The framebuffer going black is not enough for a TV left on all night; CEC standby turns the
panel itself off. A monitor without CEC goes to sleep by DPMS: the framebuffer backend asks
for that itself (FB_BLANK_POWERDOWN), a player in an X session through `xset dpms force`.
Where neither is there, the player still blanks the output and says so in the command
result.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
from typing import Protocol

log = logging.getLogger(__name__)


class ScreenPower(Protocol):
    label: str  # how a command result names it: "HDMI-CEC", "DPMS"

    def set_power(self, on: bool) -> bool:
        """Ask the screen to turn on or go to standby; False when that could not be done."""
        ...


class NoScreenPower:
    label = "no panel power control"

    def set_power(self, on: bool) -> bool:
        return False


class CecPower:
    """Sends `on 0` / `standby 0` to the TV (logical address 0) through `cec-client -s`."""

    label = "HDMI-CEC"

    def __init__(self, executable: str = "cec-client", timeout_s: float = 15.0) -> None:
        self._executable = executable
        self._timeout_s = timeout_s

    @staticmethod
    def available(executable: str = "cec-client") -> bool:
        return shutil.which(executable) is not None

    def set_power(self, on: bool) -> bool:
        command = "on 0" if on else "standby 0"
        argv = [self._executable, "-s", "-d", "1"]
        return _ran(argv, f"cec-client {command!r}", self._timeout_s, stdin_text=command + "\n")


class DpmsPower:
    """DPMS standby and wake through `xset dpms force off|on` (the window backend, in an
    X session; `DISPLAY` comes from the player's environment)."""

    label = "DPMS"

    def __init__(self, executable: str = "xset", timeout_s: float = 5.0) -> None:
        self._executable = executable
        self._timeout_s = timeout_s

    @staticmethod
    def available(executable: str = "xset") -> bool:
        return shutil.which(executable) is not None

    def set_power(self, on: bool) -> bool:
        argv = [self._executable, "dpms", "force", "on" if on else "off"]
        return _ran(argv, " ".join(argv), self._timeout_s)


def _ran(argv: list[str], what: str, timeout_s: float, stdin_text: str | None = None) -> bool:
    """Whether the tool ran and exited 0; when not, the log says why, naming it `what`."""
    try:
        result = subprocess.run(
            argv, input=stdin_text, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        log.warning("%s failed: %s", what, error)
        return False
    if result.returncode != 0:
        log.warning("%s exited %s: %s", what, result.returncode, result.stderr[-200:])
        return False
    return True


class RecordingScreenPower:
    """A fake that remembers each request."""

    def __init__(self, works: bool = True, label: str = "HDMI-CEC") -> None:
        self._works = works
        self.label = label
        self._lock = threading.Lock()
        self.requests: list[bool] = []

    def set_power(self, on: bool) -> bool:
        with self._lock:
            self.requests.append(on)
        return self._works
