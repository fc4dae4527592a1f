"""Daily metrics and the staff report tables built from them; pure, no I/O.

Every store answers queries with `Metric` tuples, one number per (local day, site,
campaign, item, metric name); the raw events give them through the store's own
aggregation, and past the retention horizon the `daily_rollups` computed here stand
in for the raw events. One pivot (`build_report`) turns them into the tables the CMS
shows, so SQLite and InfluxDB answer identically.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from central_cms.analytics.model import DeviceInfo, EventRow, LocalDays, site_of
from devices.protocol import EventType
from devices.protocol.events_wire import (
    Event,
    PlayEvent,
    PromoClickedEvent,
    PromoShownEvent,
    SessionEndedEvent,
    TermsAcceptedEvent,
)

# (day, site_id, campaign_id, item_id, metric, value); "" where a dimension does not apply
Metric = tuple[str, str, str, str, str, float]

PLAYS = "plays"
SHOWN_S = "shown_s"
SCHEDULED_S = "scheduled_s"
SESSIONS = "sessions"  # visitors joining the Wi-Fi (terms accepted)
VISITORS = "visitors"  # distinct visitors that day at that site
RETURNING = "returning"  # of those, first seen at that site on an earlier day
PROMO_SHOWN = "promo_shown"
PROMO_CLICKED = "promo_clicked"
DWELL_PREFIX = "dwell:"

# Upper edges in seconds of the dwell buckets staff read ("how long they stayed").
_DWELL_EDGES_S = (5 * 60, 15 * 60, 30 * 60, 60 * 60, 120 * 60)
DWELL_BUCKETS = ("under 5 min", "5-15 min", "15-30 min", "30-60 min", "1-2 h", "over 2 h")


def dwell_bucket(duration_s: float) -> str:
    return DWELL_BUCKETS[bisect.bisect_right(_DWELL_EDGES_S, duration_s)]


def daily_rollups(
    rows: Iterable[EventRow], first_visit_day: Mapping[tuple[str, str], str]
) -> list[Metric]:
    """Collapse raw events into daily metrics.

    `first_visit_day` maps (site, visitor hash) to the first local day that visitor
    joined the Wi-Fi at that site, so a visitor counts as returning on later days.
    """
    sums: dict[tuple[str, str, str, str, str], float] = defaultdict(float)
    visitors: dict[tuple[str, str], set[str]] = defaultdict(set)
    for row in rows:
        day, kind, site = row.day, row.type, row.site_id
        if kind == EventType.PLAY:
            key = (day, site, row.campaign_id or "", "")
            sums[(*key, PLAYS)] += 1
            sums[(*key, SHOWN_S)] += row.shown_s or 0.0
            sums[(*key, SCHEDULED_S)] += row.scheduled_s or 0.0
        elif kind == EventType.TERMS_ACCEPTED:
            sums[(day, site, "", "", SESSIONS)] += 1
            if row.visitor_hash:
                visitors[(day, site)].add(row.visitor_hash)
        elif kind == EventType.SESSION_ENDED:
            sums[(day, site, "", "", DWELL_PREFIX + dwell_bucket(row.dwell_s or 0.0))] += 1
        elif kind in (EventType.PROMO_SHOWN, EventType.PROMO_CLICKED):
            metric = PROMO_SHOWN if kind == EventType.PROMO_SHOWN else PROMO_CLICKED
            sums[(day, site, row.campaign_id or "", row.item_id or "", metric)] += 1
    for (day, site), hashes in visitors.items():
        sums[(day, site, "", "", VISITORS)] = len(hashes)
        sums[(day, site, "", "", RETURNING)] = sum(
            1 for h in hashes if first_visit_day.get((site, h), day) < day
        )
    return sorted((*key, value) for key, value in sums.items())


@dataclass(frozen=True)
class DailySums:
    """What some events add to the daily figures: the additive metrics, and the Wi-Fi
    joins (local day, site, visitor hash) from which distinct visitors are counted."""

    metrics: list[Metric]
    joins: set[tuple[str, str, str]]
    last_day: str  # latest local day among the events ("" for none)


def daily_sums(events: Iterable[Event], device: DeviceInfo | None) -> DailySums:
    """The same figures as `daily_rollups` gives for these events, straight from the
    decoded events (the ingest's hot path: one pass, no rows), except that distinct
    and returning visitors are left to be counted from `joins` across batches."""
    site, timezone = site_of(device)
    days = LocalDays(timezone)
    plays: dict[tuple[str, str], list[float]] = {}
    counts: dict[tuple[str, str, str, str], int] = defaultdict(int)
    joins: set[tuple[str, str, str]] = set()
    last_day = ""
    for event in events:
        day = days.of(event.at)
        if day > last_day:
            last_day = day
        if isinstance(event, PlayEvent):
            play = event.data
            totals = plays.get((day, play.campaign_id or ""))
            if totals is None:
                totals = plays[(day, play.campaign_id or "")] = [0.0, 0.0, 0.0]
            totals[0] += 1
            totals[1] += play.shown_s
            totals[2] += play.scheduled_s
        elif isinstance(event, TermsAcceptedEvent):
            counts[(day, "", "", SESSIONS)] += 1
            joins.add((day, site, event.data.visitor_hash))
        elif isinstance(event, SessionEndedEvent):
            counts[(day, "", "", DWELL_PREFIX + dwell_bucket(event.data.duration_s))] += 1
        elif isinstance(event, PromoShownEvent | PromoClickedEvent):
            promo = event.data
            metric = PROMO_SHOWN if isinstance(event, PromoShownEvent) else PROMO_CLICKED
            counts[(day, promo.campaign_id or "", promo.item_id, metric)] += 1
    metrics: list[Metric] = []
    for (day, campaign), (count, shown, scheduled) in plays.items():
        metrics += [
            (day, site, campaign, "", PLAYS, count),
            (day, site, campaign, "", SHOWN_S, shown),
            (day, site, campaign, "", SCHEDULED_S, scheduled),
        ]
    metrics += [
        (day, site, campaign, item, metric, float(count))
        for (day, campaign, item, metric), count in counts.items()
    ]
    return DailySums(metrics, joins, last_day)


@dataclass(frozen=True)
class PlayRow:
    day: str
    site_id: str
    campaign_id: str
    plays: int
    shown_s: float
    scheduled_s: float

    @property
    def shown_ratio(self) -> float | None:
        """Shown time over scheduled time: below 1 means plays were cut short."""
        return self.shown_s / self.scheduled_s if self.scheduled_s else None


@dataclass(frozen=True)
class WifiRow:
    day: str
    site_id: str
    sessions: int
    visitors: int
    returning: int


@dataclass(frozen=True)
class DwellRow:
    bucket: str
    sessions: int


@dataclass(frozen=True)
class PromoRow:
    site_id: str
    campaign_id: str
    item_id: str
    shown: int
    clicked: int

    @property
    def click_through(self) -> float | None:
        return self.clicked / self.shown if self.shown else None


@dataclass(frozen=True)
class Report:
    plays: tuple[PlayRow, ...]
    wifi: tuple[WifiRow, ...]
    dwell: tuple[DwellRow, ...]
    promos: tuple[PromoRow, ...]


def build_report(metrics: Iterable[Metric]) -> Report:
    """Pivot metrics (from raw aggregation and rollups alike) into the staff tables."""
    plays: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    wifi: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    dwell: dict[str, float] = dict.fromkeys(DWELL_BUCKETS, 0.0)
    promos: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for day, site, campaign, item, metric, value in metrics:
        if metric in (PLAYS, SHOWN_S, SCHEDULED_S):
            plays[(day, site, campaign)][(PLAYS, SHOWN_S, SCHEDULED_S).index(metric)] += value
        elif metric in (SESSIONS, VISITORS, RETURNING):
            wifi[(day, site)][(SESSIONS, VISITORS, RETURNING).index(metric)] += value
        elif metric.startswith(DWELL_PREFIX):
            bucket = metric[len(DWELL_PREFIX) :]
            dwell[bucket] = dwell.get(bucket, 0.0) + value
        elif metric in (PROMO_SHOWN, PROMO_CLICKED):
            promos[(site, campaign, item)][metric == PROMO_CLICKED] += value
    return Report(
        plays=tuple(
            PlayRow(day, site, campaign, int(v[0]), round(v[1], 3), round(v[2], 3))
            for (day, site, campaign), v in sorted(plays.items())
        ),
        wifi=tuple(
            WifiRow(day, site, int(v[0]), int(v[1]), int(v[2]))
            for (day, site), v in sorted(wifi.items())
        ),
        dwell=tuple(DwellRow(bucket, int(count)) for bucket, count in dwell.items()),
        promos=tuple(
            PromoRow(site, campaign, item, int(v[0]), int(v[1]))
            for (site, campaign, item), v in sorted(promos.items())
        ),
    )


@dataclass(frozen=True)
class PlayTotals:
    """Plays and seconds shown and scheduled, summed over some of a report's play rows."""

    plays: int
    shown_s: float
    scheduled_s: float


@dataclass(frozen=True)
class Overview:
    """What the analytics page shows of a report (issue 17: 5,000 campaigns make tens of
    thousands of play rows): plays summed per day and per (campaign, site), the first
    `rows_shown` rows per day, site and campaign and how many there are; the Wi-Fi, dwell
    and promotion tables whole (their rows are per site, not per campaign). The SQLite
    store sums these in SQL; `overview` is the same from a `Report`."""

    plays_per_day: tuple[tuple[str, int], ...]  # by day
    by_campaign_site: tuple[tuple[str, str, PlayTotals], ...]  # by campaign id, site id
    first_plays: tuple[PlayRow, ...]  # in `Report.plays` order
    play_rows: int  # len(Report.plays)
    wifi: tuple[WifiRow, ...]
    dwell: tuple[DwellRow, ...]
    promos: tuple[PromoRow, ...]

    @property
    def total_plays(self) -> int:
        return sum(plays for _, plays in self.plays_per_day)


def overview(report: Report, rows_shown: int) -> Overview:
    per_day: dict[str, int] = defaultdict(int)
    by_campaign_site: dict[tuple[str, str], list[float]] = {}
    for row in report.plays:
        per_day[row.day] += row.plays
        totals = by_campaign_site.setdefault((row.campaign_id, row.site_id), [0, 0.0, 0.0])
        totals[0] += row.plays
        totals[1] += row.shown_s
        totals[2] += row.scheduled_s
    return Overview(
        plays_per_day=tuple(sorted(per_day.items())),
        by_campaign_site=tuple(
            (campaign, site, PlayTotals(int(t[0]), t[1], t[2]))
            for (campaign, site), t in sorted(by_campaign_site.items())
        ),
        first_plays=report.plays[:rows_shown],
        play_rows=len(report.plays),
        wifi=report.wifi,
        dwell=report.dwell,
        promos=report.promos,
    )
