"""Panel brightness: roadside LED screens follow a day/night schedule (DESIGN.md, domain
facts), indoor TVs usually have no such control.

A driver for a real LED controller (Novastar, Colorlight, ...) is a later issue; the player
needs only `set_percent`, and tests use `RecordingBrightness`.
"""

from __future__ import annotations

import threading
from typing import Protocol


class Brightness(Protocol):
    def set_percent(self, percent: int) -> None:
        """0 to 100. Called on changes only, not every tick."""
        ...


class NoBrightness:
    """For screens without a brightness control (most indoor TVs)."""

    def set_percent(self, percent: int) -> None:
        pass


class RecordingBrightness:
    """A fake controller that remembers every level it was set to, in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._history: list[int] = []

    def set_percent(self, percent: int) -> None:
        if not 0 <= percent <= 100:
            raise ValueError(f"brightness {percent} is outside 0-100")
        with self._lock:
            self._history.append(percent)

    @property
    def history(self) -> list[int]:
        with self._lock:
            return list(self._history)

    @property
    def current(self) -> int | None:
        with self._lock:
            return self._history[-1] if self._history else None
