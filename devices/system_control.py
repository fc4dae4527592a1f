"""The machine-level actions a device agent may take, behind one small interface."""

from __future__ import annotations

import subprocess
import threading
from typing import Protocol


class SystemControl(Protocol):
    def reboot(self) -> None: ...


class SystemdControl:
    def reboot(self) -> None:
        subprocess.run(["systemctl", "reboot"], check=False, timeout=30)


class RecordingSystem:
    """For tests and the demo: remembers reboots instead of doing them."""

    def __init__(self) -> None:
        self.reboots = 0
        self.rebooted = threading.Event()

    def reboot(self) -> None:
        self.reboots += 1
        self.rebooted.set()
