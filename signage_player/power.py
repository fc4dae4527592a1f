"""Screen power over HDMI-CEC (`cec-client` from libcec), for the display on/off commands.

The framebuffer going black is not enough for a TV left on all night; CEC standby turns the
panel itself off. Where `cec-client` is missing (or there is no CEC adapter), the player
still blanks the output and says so in the command result.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
from typing import Protocol

log = logging.getLogger(__name__)


class ScreenPower(Protocol):
    def set_power(self, on: bool) -> bool:
        """Ask the screen to turn on or go to standby; False when that could not be done."""
        ...


class NoScreenPower:
    def set_power(self, on: bool) -> bool:
        return False


class CecPower:
    """Sends `on 0` / `standby 0` to the TV (logical address 0) through `cec-client -s`."""

    def __init__(self, executable: str = "cec-client", timeout_s: float = 15.0) -> None:
        self._executable = executable
        self._timeout_s = timeout_s

    @staticmethod
    def available(executable: str = "cec-client") -> bool:
        return shutil.which(executable) is not None

    def set_power(self, on: bool) -> bool:
        command = "on 0" if on else "standby 0"
        try:
            result = subprocess.run(
                [self._executable, "-s", "-d", "1"],
                input=command + "\n",
                capture_output=True,
                text=True,
                timeout=self._timeout_s,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            log.warning("cec-client %r failed: %s", command, error)
            return False
        if result.returncode != 0:
            log.warning(
                "cec-client %r exited %s: %s", command, result.returncode, result.stderr[-200:]
            )
            return False
        return True


class RecordingScreenPower:
    """A fake that remembers each request."""

    def __init__(self, works: bool = True) -> None:
        self._works = works
        self._lock = threading.Lock()
        self.requests: list[bool] = []

    def set_power(self, on: bool) -> bool:
        with self._lock:
            self.requests.append(on)
        return self._works
