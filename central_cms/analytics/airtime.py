"""Proof of play for share of voice: seconds shown per campaign, site and clock hour, and
the guaranteed-against-achieved figures staff read on the campaign's airtime page.

The ingest sums each batch's plays into `hourly_airtime` rows the way the player counts
a guarantee (devices/share_of_voice.py): a play counts, with its `shown_s`, in the
local clock hour of its site that it started in. An hour is kept as the UTC instant it
starts at, so the repeated hour of a fall-back stays two hours. Pure: no I/O.

What was guaranteed is worked out from the campaign as it is now (its guarantee in
whole plays, its schedules, the signage screens it reaches), so editing a guarantee
changes the expectation of past hours too; the page says so.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from central_cms.analytics.model import DeviceInfo, site_of
from devices.protocol import Schedule
from devices.protocol.events_wire import Event, PlayEvent
from devices.share_of_voice import HOUR, hour_of, open_seconds, open_spans

# (hour start as UTC ISO text, site, campaign, seconds shown, plays)
AirtimeRow = tuple[str, str, str, float, int]
# Within this share of the guarantee an hour counts as met (the "within 1 %").
TOLERANCE = 0.01


def hour_key(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_hour(key: str) -> datetime:
    return datetime.strptime(key, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def hourly_airtime(events: Iterable[Event], device: DeviceInfo | None) -> list[AirtimeRow]:
    """What a batch adds to `hourly_airtime`: campaign plays only (default content has
    no guarantee)."""
    site, timezone = site_of(device)
    zone = ZoneInfo(timezone)
    sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for event in events:
        if isinstance(event, PlayEvent) and event.data.campaign_id:
            play, campaign = event.data, event.data.campaign_id
            totals = sums[hour_key(hour_of(play.started_at, zone)), campaign]
            totals[0] += play.shown_s
            totals[1] += 1
    return [
        (hour, site, campaign, shown, int(plays))
        for (hour, campaign), (shown, plays) in sums.items()
    ]


@dataclass(frozen=True, slots=True)
class HourFigure:
    start: datetime  # UTC
    guaranteed_s: float
    achieved_s: float

    @property
    def met(self) -> bool:
        return self.achieved_s >= self.guaranteed_s * (1 - TOLERANCE)

    @property
    def percent(self) -> float | None:
        return 100 * self.achieved_s / self.guaranteed_s if self.guaranteed_s else None


@dataclass(frozen=True, slots=True)
class DayFigure:
    day: date
    hours: tuple[HourFigure, ...]  # the hours it was scheduled or played

    @property
    def guaranteed_s(self) -> float:
        return sum(hour.guaranteed_s for hour in self.hours)

    @property
    def achieved_s(self) -> float:
        return sum(hour.achieved_s for hour in self.hours)

    @property
    def hours_met(self) -> int:
        return sum(1 for hour in self.hours if hour.guaranteed_s and hour.met)

    @property
    def hours_scheduled(self) -> int:
        return sum(1 for hour in self.hours if hour.guaranteed_s)


def _local_hours(day: date, zone: ZoneInfo) -> list[datetime]:
    """The UTC starts of the local day's clock hours (23 or 25 on a changeover)."""
    first = datetime.combine(day, time(0), zone).astimezone(UTC)
    last = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
    hours, at = [], first
    while at < last:
        hours.append(hour_of(at, zone))
        at = hours[-1] + HOUR
    return hours


def guarantee_by_day(
    share_s: int,
    schedules: Sequence[Schedule],
    screens: int,
    zone: ZoneInfo,
    days: Sequence[date],
    achieved: Mapping[datetime, float],
    until: datetime,
    since: datetime | None = None,
) -> list[DayFigure]:
    """Guaranteed (share x the open part of each hour x the screens) against achieved
    (`achieved`: seconds shown by hour start, over those screens), day by day, for the
    hours over by `until` (an hour still running is not yet short) and begun after
    `since` (when the campaign was published: it owed nothing before)."""
    out = []
    for day in days:
        hours = []
        for start in _local_hours(day, zone):
            if start + HOUR > until:
                break
            if since is not None and start < since:
                continue
            open_s = open_seconds(open_spans(tuple(schedules), start, start + HOUR, zone))
            guaranteed = share_s * open_s / 3600 * screens
            shown = achieved.get(start, 0.0)
            if guaranteed or shown:
                hours.append(HourFigure(start, guaranteed, shown))
        out.append(DayFigure(day, tuple(hours)))
    return out
