"""When an item may show: days, dates and local wall-clock windows (DESIGN.md,
schedule semantics). Times of day are ``HH:MM`` in the site's time zone.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Self

from pydantic import model_validator

from devices.protocol.base import Frozen, LocalTime


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"

    @property
    def number(self) -> int:
        """Monday is 0, as in ``date.weekday()``."""
        return _WEEKDAY_ORDER.index(self.value)


_WEEKDAY_ORDER = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class TimeWindow(Frozen):
    """``[start, end)`` local wall-clock time; ``end <= start`` crosses midnight and
    belongs to the day it starts on (DESIGN.md, schedule semantics)."""

    start: LocalTime
    end: LocalTime


class Schedule(Frozen):
    """When an item may show. Empty `days` means every day; empty `windows` all day."""

    starts_on: date | None = None
    ends_on: date | None = None
    days: tuple[Weekday, ...] = ()
    windows: tuple[TimeWindow, ...] = ()

    @model_validator(mode="after")
    def _range_in_order(self) -> Self:
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise ValueError("ends_on is before starts_on")
        return self
