"""Share of voice: guaranteed seconds of every clock hour, honoured offline.

An item with `share_s_per_hour` gets that many seconds of each clock hour of its zone
while it is scheduled, interleaved through the hour; the rest of the rotation fills the
remaining time by weight, exactly as `devices.playlist` does without guarantees. Pure
and deterministic: the instant and the zone come in, nothing reads a clock.

The rules, in the order they decide a pick:

* A clock hour is an hour of the site's local wall clock (it starts where the minutes
  are 00). A play counts in the hour it starts in: proof-of-play is summed that way.
* An item's quota for the hour is its share pro rata of the part of the hour its own
  schedules are open (a window opening at 09:20 owes two thirds of the share in the
  09:00 hour), played as the nearest whole number of plays of its dwell. When the
  guaranteed items eligible together ask for more than the hour, each is scaled down in
  proportion (the CMS warns staff before it gets here).
* Interleaving: an item's k-th play of n is due once k/n of its open part of the hour
  has gone by. Due items play first, the one furthest behind its pace first.
* Otherwise the rest plays by weight, unless starting the rest's next item would leave
  too little open time for the plays still owed (earliest-closing guarantee first);
  then the guarantee plays.
* Guaranteed items stay out of the weighted rotation while anything else is eligible,
  so they get their quota, not more. With nothing else eligible they fill the hour by
  weight: a guarantee is a floor, and a black screen helps no one.
* Time the zone is given to a higher priority, an alert or a night blank is nobody's:
  a guaranteed item only plays while it is eligible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from devices.playlist import Rotation, next_in_rotation
from devices.protocol import ContentItem, Schedule
from devices.schedule import item_open, next_change, schedule_open

__all__ = ["hour_of", "next_on_air", "open_seconds", "open_spans"]

HOUR = timedelta(hours=1)
_HOUR_S = 3600.0


def hour_of(at: datetime, tz: ZoneInfo) -> datetime:
    """The start (UTC) of the local clock hour holding `at`."""
    local = at.astimezone(UTC).astimezone(tz)
    # replace() keeps `fold`, so the repeated hour of a fall-back maps to its own instant.
    return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)


@lru_cache(maxsize=4096)
def _spans(
    schedules: tuple[Schedule, ...], start: datetime, end: datetime, tz: ZoneInfo
) -> tuple[tuple[datetime, datetime], ...]:
    if not schedules:
        return ((start, end),)

    def is_open(at: datetime) -> bool:
        return any(schedule_open(schedule, at, tz) for schedule in schedules)

    found: list[tuple[datetime, datetime]] = []
    cursor, opened = start, is_open(start)
    span_start = start if opened else None
    while cursor < end:
        change = next_change(schedules, cursor, tz, horizon=end - cursor)
        if change is None or change >= end:
            break
        cursor = change
        now_open = is_open(cursor)
        if now_open and span_start is None:
            span_start = cursor
        elif not now_open and span_start is not None:
            found.append((span_start, cursor))
            span_start = None
    if span_start is not None:
        found.append((span_start, end))
    return tuple(found)


def open_spans(
    schedules: tuple[Schedule, ...], start: datetime, end: datetime, tz: ZoneInfo
) -> tuple[tuple[datetime, datetime], ...]:
    """The stretches of [start, end) (UTC) in which any of the schedules is open (all of
    it for none, as an item without schedules always plays)."""
    return _spans(tuple(schedules), start.astimezone(UTC), end.astimezone(UTC), tz)


def open_seconds(
    spans: Sequence[tuple[datetime, datetime]], until: datetime | None = None
) -> float:
    """How long the spans last, or the part of them before `until`."""
    total = 0.0
    for start, end in spans:
        stop = end if until is None else min(end, until)
        if stop > start:
            total += (stop - start).total_seconds()
    return total


@dataclass(frozen=True, slots=True)
class _Owed:
    """Where one guaranteed item stands in the current hour."""

    item: ContentItem
    dwell_s: float
    plays: int  # its quota for the hour, in plays
    aired: int  # plays started this hour
    open_s: float  # the open part of the hour
    elapsed_s: float  # how much of that has gone by
    limit: datetime  # its last play must be over by then

    @property
    def remaining(self) -> int:
        return max(0, self.plays - self.aired)

    @property
    def due(self) -> bool:
        return self.remaining > 0 and self.aired * self.open_s <= self.elapsed_s * self.plays

    @property
    def pace(self) -> float:
        return self.aired / self.plays


def _owed(
    guaranteed: Sequence[ContentItem],
    aired: dict[str, int],
    at: datetime,
    tz: ZoneInfo,
    min_dwell_s: float,
) -> list[_Owed]:
    hour = hour_of(at, tz)
    end = hour + HOUR
    asked = sum(item.share_s_per_hour or 0 for item in guaranteed)
    scale = min(1.0, _HOUR_S / asked)
    owed = []
    for item in guaranteed:
        spans = open_spans(item.schedules, hour, end, tz)
        open_s = open_seconds(spans)
        dwell = max(item.duration_s, min_dwell_s)
        quota_s = (item.share_s_per_hour or 0) * scale * open_s / _HOUR_S
        plays = int(quota_s / dwell + 0.5)
        if plays == 0:
            continue
        closes = spans[-1][1]
        # Open on past the hour: its last play may start just before the hour ends (a play
        # starting on the hour counts in the next one, hence the microsecond).
        runs_on = closes == end and item_open(item, end, tz)
        limit = end + timedelta(seconds=dwell, microseconds=-1) if runs_on else closes
        owed.append(
            _Owed(item, dwell, plays, aired.get(item.id, 0), open_s, open_seconds(spans, at), limit)
        )
    return owed


def _fits(owed: Sequence[_Owed], free_from: datetime) -> bool:
    """Whether every play still owed fits, earliest-closing first, from `free_from`."""
    cursor = free_from
    for entry in sorted(owed, key=lambda o: o.limit):
        if entry.remaining:
            cursor += timedelta(seconds=entry.remaining * entry.dwell_s)
            if cursor > entry.limit:
                return False
    return True


def next_on_air(
    rotation: Rotation | None,
    eligible: Sequence[ContentItem],
    at: datetime,
    tz: ZoneInfo,
    *,
    min_dwell_s: float = 0.0,
) -> tuple[ContentItem, Rotation]:
    """The item to play at `at` and the rotation to pass to the following call.

    `eligible` is what may play in the zone now (devices.schedule.eligible_items), in
    manifest order; `min_dwell_s` is the profile's minimum time on screen. Without
    guaranteed items this is `next_in_rotation`, pick for pick.
    """
    if not eligible:
        raise ValueError("nothing eligible to rotate: `eligible` must hold at least one item")
    rotation = rotation if rotation is not None else Rotation()
    unique: dict[str, ContentItem] = {}
    for item in eligible:
        unique.setdefault(item.id, item)  # a repeated id plays as one item
    guaranteed = [item for item in unique.values() if item.share_s_per_hour]
    rest = [item for item in unique.values() if not item.share_s_per_hour]
    hour = hour_of(at, tz)
    aired = dict(rotation.aired) if rotation.hour == hour else {}
    owed = _owed(guaranteed, aired, at, tz, min_dwell_s) if guaranteed else []

    # A play its own window would cut short is not worth starting: what is left is lost.
    owed = [entry for entry in owed if at + timedelta(seconds=entry.dwell_s) <= entry.limit]
    chosen: ContentItem | None = None
    due = [entry for entry in owed if entry.due]
    if due:
        pick = min(due, key=lambda entry: entry.pace)
        # Furthest behind plays first, unless its dwell would push another's owed plays
        # past that one's window: then the earliest-closing guarantee goes first.
        then = [replace(o, aired=o.aired + 1) if o is pick else o for o in owed]
        if not _fits(then, at + timedelta(seconds=pick.dwell_s)):
            pick = min((o for o in owed if o.remaining), key=lambda o: o.limit)
        chosen = pick.item
    elif rest:
        candidate, after = next_in_rotation(rotation, rest)
        dwell = timedelta(seconds=max(candidate.duration_s, min_dwell_s))
        if _fits(owed, at + dwell):
            chosen, rotation = candidate, after
        else:
            chosen = min((o for o in owed if o.remaining), key=lambda o: o.limit).item
    if chosen is None:  # only guaranteed items are eligible: they fill by weight
        chosen, rotation = next_in_rotation(rotation, guaranteed)
    if chosen.share_s_per_hour:
        aired[chosen.id] = aired.get(chosen.id, 0) + 1
    return chosen, replace(rotation, hour=hour, aired=tuple(sorted(aired.items())))
