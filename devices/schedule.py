"""The one schedule evaluator: what is open at an instant, and when that next changes.

Pure: no I/O and no clock reads. The CMS preview, the manifest compiler, the signage
player and the portal all call these functions, so they agree to the microsecond.

Semantics (DESIGN.md, "Schedule semantics"):

* Everything is evaluated in the site's IANA time zone. Instants are aware datetimes
  in any offset; naive ones are refused.
* A schedule is open at an instant when the instant's *local wall time* falls inside
  one of its occurrences. An occurrence of a window ``[start, end)`` belongs to the
  local day it starts on; ``end <= start`` runs into the next day, ``start == end``
  lasts 24 wall-clock hours. That day must be one of `days` (empty: every day) and
  inside ``starts_on..ends_on`` (inclusive). No `windows` means the whole local day.
* Daylight saving follows from "wall time decides": a wall time that a spring-forward
  skips never occurs, and a wall time that a fall-back repeats is inside both times.

Rule for a window whose start is skipped (spring-forward): it opens at the first
instant whose wall time is inside it, which is the transition itself. In Sydney on
the first Sunday of October a 02:30-04:00 window opens at 03:00 AEDT (16:00 UTC), and
a 22:00-02:30 window from Saturday closes at that same instant. A window lying wholly
inside the gap (02:00-03:00, 02:15-02:45) does not open that day at all.
On a fall-back day a wall time that occurs twice counts twice: Sydney's 02:00-02:30
on the first Sunday of April opens at 02:00 AEDT, closes at 02:30 AEDT, and opens
again at 02:00 AEST for another half hour; 02:30-04:00 opens at 02:30 AEDT, closes
when the clocks go back to 02:00, and opens again at 02:30 AEST.

How `next_change` works: the open state is a function of wall time, and wall time
is the instant plus the zone's UTC offset. Between two offset transitions that is a
straight line, so within each constant-offset span the next change is the first
wall-clock boundary (a window start or end on some local day) where the open state
really changes, mapped back by subtracting the span's offset. At a transition the
wall clock jumps, so the state just before and at the transition is compared
directly. Spans are found a day at a time and each schedule looks at no more than
three local days per span; most calls end in the first span.

Instants returned are in UTC on purpose: Python compares and subtracts two datetimes
that share a tzinfo by wall time, ignoring `fold`, which is wrong across a fall-back.
Convert with ``.astimezone(tz)`` only for display.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple, Protocol
from zoneinfo import ZoneInfo

from devices.playlist import Rotation, next_in_rotation
from devices.protocol import (
    Alert,
    BrightnessStep,
    ContentItem,
    DeviceKind,
    Manifest,
    Schedule,
    Severity,
    TimeWindow,
    Weekday,
)

__all__ = [
    "DEFAULT_HORIZON",
    "Rotation",
    "active_alert",
    "brightness_at",
    "eligible_items",
    "item_open",
    "next_brightness_change",
    "next_change",
    "next_in_rotation",
    "next_manifest_change",
    "next_window_change",
    "open_items",
    "schedule_open",
    "window_open",
]

DEFAULT_HORIZON = timedelta(days=8)

_ONE_DAY = timedelta(days=1)
# Times of day and instants both have microsecond resolution, so "just before b" is b - 1 µs.
_TICK = timedelta(microseconds=1)
_MIDNIGHT = time(0)
# Offset transitions are found by probing the offset this often and bisecting where it
# differs. No zone changes its offset twice within a day.
_PROBE = timedelta(days=1)
_SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.EMERGENCY: 2}


# --- instants and wall time ----------------------------------------------------------------


def _require_aware(at: datetime, name: str) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"`{name}` must be an aware datetime (an instant with an offset)")


def _wall(at: datetime, tz: ZoneInfo) -> datetime:
    """The local wall-clock time of an instant, as a naive datetime."""
    _require_aware(at, "at")
    # Through UTC: astimezone() leaves a datetime already in `tz` untouched, so a wall
    # time that does not exist (02:30 on a spring-forward day) would be taken at face
    # value instead of as the instant it stands for.
    return at.astimezone(UTC).astimezone(tz).replace(tzinfo=None)


def _clock(value: time) -> time:
    # The protocol's `time` fields could carry an offset ("07:00+08:00"); a window is
    # wall-clock time in the site's zone, so the offset is ignored.
    return value if value.tzinfo is None else value.replace(tzinfo=None)


_WEEKDAYS = tuple(Weekday)  # Monday first, as date.weekday() counts


# --- rules: a value that is a function of wall time ----------------------------------------


class _Rule(Protocol):
    """A value that depends only on local wall time and can change only at wall-clock
    boundaries that belong to local days."""

    @property
    def first_day(self) -> date | None: ...

    @property
    def last_day(self) -> date | None: ...

    @property
    def overnight(self) -> bool:
        """Whether a day's occurrences can reach into the next day."""
        ...

    def value(self, wall: datetime) -> object: ...

    def boundaries(self, day: date) -> list[datetime]:
        """Wall times where the value may change, from occurrences belonging to `day`;
        all lie in [day 00:00, day + 2 00:00)."""
        ...


@dataclass(frozen=True, slots=True)
class _ScheduleRule:
    """A Schedule read as a rule; a thin view, so wrapping one costs next to nothing."""

    schedule: Schedule

    @classmethod
    def daily(cls, window: TimeWindow) -> _ScheduleRule:
        return cls(Schedule(windows=(window,)))

    @property
    def first_day(self) -> date | None:
        return self.schedule.starts_on

    @property
    def last_day(self) -> date | None:
        return self.schedule.ends_on

    @property
    def overnight(self) -> bool:
        return any(_clock(w.end) <= _clock(w.start) for w in self.schedule.windows)

    def runs_on(self, day: date) -> bool:
        """Whether occurrences starting on local `day` count."""
        schedule = self.schedule
        return (
            (schedule.starts_on is None or day >= schedule.starts_on)
            and (schedule.ends_on is None or day <= schedule.ends_on)
            and (not schedule.days or _WEEKDAYS[day.weekday()] in schedule.days)
        )

    def value(self, wall: datetime) -> bool:
        day = wall.date()
        if not self.schedule.windows:
            return self.runs_on(day)
        clock = wall.time()
        for window in self.schedule.windows:
            start, end = _clock(window.start), _clock(window.end)
            if start < end:
                if start <= clock < end and self.runs_on(day):
                    return True
            # Crosses midnight (or lasts 24 h): the evening part belongs to today, the
            # early-morning part to yesterday's occurrence.
            elif (clock >= start and self.runs_on(day)) or (
                clock < end and self.runs_on(day - _ONE_DAY)
            ):
                return True
        return False

    def boundaries(self, day: date) -> list[datetime]:
        if not self.runs_on(day):
            return []
        if not self.schedule.windows:
            return [datetime.combine(day, _MIDNIGHT), datetime.combine(day + _ONE_DAY, _MIDNIGHT)]
        found = []
        for window in self.schedule.windows:
            start, end = _clock(window.start), _clock(window.end)
            found.append(datetime.combine(day, start))
            found.append(datetime.combine(day if start < end else day + _ONE_DAY, end))
        return found


@dataclass(frozen=True, slots=True)
class _BrightnessRule:
    steps: tuple[tuple[time, int], ...]  # sorted by time, at least one
    first_day: date | None = None
    last_day: date | None = None
    overnight: bool = False

    @classmethod
    def of(cls, steps: Sequence[BrightnessStep]) -> _BrightnessRule:
        return cls(tuple(sorted((_clock(step.at), step.percent) for step in steps)))

    def value(self, wall: datetime) -> int:
        return self.at(wall.time())

    def at(self, clock: time) -> int:
        # Before the day's first step the previous day's last step is still in force.
        percent = self.steps[-1][1]
        for start, step_percent in self.steps:
            if start > clock:
                break
            percent = step_percent
        return percent

    def boundaries(self, day: date) -> list[datetime]:
        return [datetime.combine(day, start) for start, _ in self.steps]


# --- the next change -----------------------------------------------------------------------


class _Span(NamedTuple):
    """Instants [start, end) (UTC) during which the zone's UTC offset is constant."""

    start: datetime
    end: datetime
    offset: timedelta


def _offset(instant: datetime, tz: ZoneInfo) -> timedelta:
    offset = instant.astimezone(tz).utcoffset()
    assert offset is not None  # a ZoneInfo always knows its offset
    return offset


def _offset_change(before: datetime, after: datetime, tz: ZoneInfo) -> datetime:
    """The first instant in (before, after] with a different offset from `before`'s;
    zones change offset on whole seconds, so bisect over POSIX seconds."""
    old = _offset(before, tz)
    low, high = math.floor(before.timestamp()), math.ceil(after.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if _offset(datetime.fromtimestamp(middle, UTC), tz) == old:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)


def _offset_spans(start: datetime, end: datetime, tz: ZoneInfo) -> Iterator[_Span]:
    """[start, end) in pieces of constant UTC offset, at most a day long (which bounds
    the days `_next_wall_change` looks at), found lazily: most searches end in the first."""
    span_start, offset = start, _offset(start, tz)
    while span_start < end:
        probe = min(span_start + _PROBE, end)
        probe_offset = _offset(probe, tz)
        if probe_offset == offset:
            yield _Span(span_start, probe, offset)
            span_start = probe
        else:
            change = _offset_change(span_start, probe, tz)
            yield _Span(span_start, change, offset)
            span_start, offset = change, _offset(change, tz)


def _naive(instant: datetime, offset: timedelta) -> datetime:
    return (instant + offset).replace(tzinfo=None)


def _next_wall_change(rule: _Rule, low: datetime, high: datetime) -> datetime | None:
    """The first wall time b with low < b < high at which the rule's value changes.

    Spans are at most a day long, so this looks at no more than three local days.
    """
    day, last = low.date(), high.date()
    if rule.overnight:  # yesterday's occurrence may still be running
        day -= _ONE_DAY
    if rule.first_day is not None and day < rule.first_day:
        day = rule.first_day
    if rule.last_day is not None and last > rule.last_day:
        last = rule.last_day
    candidates: list[datetime] = []
    while day <= last:
        candidates.extend(rule.boundaries(day))
        day += _ONE_DAY
    candidates.sort()
    for boundary in candidates:
        if boundary >= high:
            return None
        if boundary > low and rule.value(boundary) != rule.value(boundary - _TICK):
            return boundary
    return None


def _next_change(
    rules: Iterable[_Rule], after: datetime, tz: ZoneInfo, horizon: timedelta
) -> datetime | None:
    """The first instant in (after, after + horizon] at which any rule's value changes (UTC)."""
    _require_aware(after, "after")
    start = after.astimezone(UTC)
    end = start + horizon + _TICK  # a change exactly at the horizon still counts
    rules = list(rules)
    previous: _Span | None = None
    for span in _offset_spans(start, end, tz):
        if previous is None:
            low = _naive(start, span.offset)
        elif previous.offset == span.offset:
            # Carry on from where the last piece stopped, including its end instant.
            low = _naive(span.start, span.offset) - _TICK
        else:
            # The wall clock jumps here: compare each value just before and at the jump.
            low = _naive(span.start, span.offset)
            just_before = _naive(span.start, previous.offset) - _TICK
            if any(rule.value(low) != rule.value(just_before) for rule in rules):
                return span.start
        # Within the span wall time runs with the instant, so the earliest wall-clock
        # change is the earliest instant. Each rule only needs to look before the best
        # found so far, so later scans stop sooner.
        best: datetime | None = None
        high = _naive(span.end, span.offset)
        for rule in rules:
            found = _next_wall_change(rule, low, best or high)
            if found is not None:
                best = found
        if best is not None:
            return (best - span.offset).replace(tzinfo=UTC)
        previous = span
    return None


# --- public API ----------------------------------------------------------------------------


def schedule_open(schedule: Schedule, at: datetime, tz: ZoneInfo) -> bool:
    return _ScheduleRule(schedule).value(_wall(at, tz))


def item_open(item: ContentItem, at: datetime, tz: ZoneInfo) -> bool:
    """True if the item has no schedules (always on) or any of them is open."""
    return _item_open_at_wall(item, _wall(at, tz))


def _item_open_at_wall(item: ContentItem, wall: datetime) -> bool:
    return not item.schedules or any(_ScheduleRule(s).value(wall) for s in item.schedules)


def power_on(manifest: Manifest, at: datetime) -> bool:
    """Whether the screen's power schedule (issue 18) has its panel on at `at`; a
    manifest without one is always on."""
    display = manifest.display
    if display is None or display.power_on is None:
        return True
    wall = _wall(at, ZoneInfo(manifest.site.timezone))
    return any(_ScheduleRule(schedule).value(wall) for schedule in display.power_on)


def window_open(window: TimeWindow, at: datetime, tz: ZoneInfo) -> bool:
    """A bare window that recurs every day, such as a screen profile's night_blank."""
    return _ScheduleRule.daily(window).value(_wall(at, tz))


def next_change(
    schedules: Iterable[Schedule],
    after: datetime,
    tz: ZoneInfo,
    *,
    horizon: timedelta = DEFAULT_HORIZON,
) -> datetime | None:
    """The first instant strictly after `after` at which any of the schedules opens or
    closes (in UTC); None if there is none up to and including `after + horizon`."""
    # Items of one campaign usually share a schedule: evaluate each distinct one once.
    rules = dict.fromkeys(_ScheduleRule(schedule) for schedule in schedules)
    return _next_change(rules, after, tz, horizon)


def next_window_change(window: TimeWindow, after: datetime, tz: ZoneInfo) -> datetime:
    """The next instant the daily window opens or closes.

    A window with start == end is open around the clock and never changes; then the
    answer is one day after `after`, a harmless moment to look again.
    """
    found = _next_change([_ScheduleRule.daily(window)], after, tz, timedelta(days=3))
    return found if found is not None else after.astimezone(UTC) + _ONE_DAY


def brightness_at(
    steps: Sequence[BrightnessStep], at: datetime, tz: ZoneInfo, default: int = 100
) -> int:
    """The percent of the step in force at the local time of `at`. Before the day's
    first step, the previous day's last step still holds; no steps gives `default`."""
    if not steps:
        return default
    return _BrightnessRule.of(steps).value(_wall(at, tz))


def next_brightness_change(
    steps: Sequence[BrightnessStep],
    after: datetime,
    tz: ZoneInfo,
    *,
    horizon: timedelta = DEFAULT_HORIZON,
) -> datetime | None:
    """The next instant the brightness percent changes; None with no effective steps."""
    if not steps:
        return None
    return _next_change([_BrightnessRule.of(steps)], after, tz, horizon)


def open_items(items: Sequence[ContentItem], at: datetime, tz: ZoneInfo) -> list[ContentItem]:
    """The items open at `at`, of every priority, in manifest order."""
    wall = _wall(at, tz)
    return [item for item in items if _item_open_at_wall(item, wall)]


def eligible_items(
    items: Sequence[ContentItem],
    defaults: Sequence[ContentItem],
    at: datetime,
    tz: ZoneInfo,
) -> list[ContentItem]:
    """What may play now, before alerts: the open items of the highest priority among
    the open ones; if none is open, the site's open default items."""
    scheduled = open_items(items, at, tz)
    if not scheduled:
        return open_items(defaults, at, tz)
    top = max(item.priority for item in scheduled)
    return [item for item in scheduled if item.priority == top]


def active_alert(alerts: Iterable[Alert], at: datetime, kind: DeviceKind) -> Alert | None:
    """The alert that overrides content on a `kind` device at `at`: the most severe of
    those active and applying to it, then the most recently issued."""
    _require_aware(at, "at")
    candidates = [alert for alert in alerts if alert.active_at(at) and alert.applies_to(kind)]
    if not candidates:
        return None
    return max(
        candidates,
        key=lambda alert: (_SEVERITY_RANK[alert.severity], alert.issued_at, alert.id),
    )


def next_manifest_change(
    manifest: Manifest,
    alerts: Iterable[Alert],
    after: datetime,
    *,
    horizon: timedelta = DEFAULT_HORIZON,
) -> datetime | None:
    """When a device showing `manifest` must next re-evaluate: the earliest of the next
    change of any item or default schedule, the screen's power schedule, the profile's
    night_blank window and brightness steps, an alert being issued or expiring, and the
    manifest's valid_until. Every candidate is strictly after `after`."""
    _require_aware(after, "after")
    after = after.astimezone(UTC)
    tz = ZoneInfo(manifest.site.timezone)
    rules: dict[_Rule, None] = dict.fromkeys(
        _ScheduleRule(schedule)
        for item in (*manifest.items, *manifest.default_items)
        for schedule in item.schedules
    )
    if manifest.display is not None and manifest.display.power_on is not None:
        rules.update(dict.fromkeys(_ScheduleRule(s) for s in manifest.display.power_on))
    profile = manifest.profile
    if profile.night_blank is not None:
        rules[_ScheduleRule.daily(profile.night_blank)] = None
    if profile.brightness:
        rules[_BrightnessRule.of(profile.brightness)] = None
    candidates = [
        instant
        for alert in alerts
        if not alert.cleared
        for instant in (alert.issued_at.astimezone(UTC), alert.expires_at.astimezone(UTC))
        if instant > after
    ]
    if manifest.valid_until > after:
        candidates.append(manifest.valid_until.astimezone(UTC))
    # A schedule change later than the earliest other candidate cannot win; don't look.
    limit = min([after + horizon, *candidates])
    scheduled = _next_change(rules, after, tz, limit - after)
    if scheduled is not None:
        candidates.append(scheduled)
    return min(candidates, default=None)
