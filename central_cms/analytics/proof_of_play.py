"""Proof of play per screen and media item (issue 17): what the ingest sums per batch into
`screen_plays`, and the campaign report built from those sums; pure, no I/O.

A play is filed under what put it on the screen: a campaign (`campaign_id`), an alert
(`alert_id`, which overrides every campaign) or, with neither, the site's default
content. Auditors ask about alerts separately from default content, so the two are
never lumped together here (the daily rollups keep them as one "no campaign" figure).

"Scheduled" is what the campaign's schedule had it on air for: the seconds its windows
were open on each screen it targets (`devices.share_of_voice.open_spans`, the
evaluator the screens use), counted from its publication up to now. Time on screen
against that is its share of voice achieved; with a guarantee, what it was owed is the
guarantee times the open hours.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from central_cms.analytics.model import DeviceInfo, LocalDays, site_of
from devices.protocol import Schedule
from devices.protocol.events_wire import Event, PlayEvent
from devices.share_of_voice import open_seconds, open_spans

CAMPAIGN, ALERT, DEFAULT = "campaign", "alert", "default"
# Below this share of what was owed (or of the play's own length) a figure is "short".
SHORT_BELOW = 0.99


@dataclass(frozen=True, slots=True, order=True)
class ScreenPlay:
    """Plays of one item on one screen on one local day, and what put it there."""

    day: str
    site_id: str
    device_id: str
    campaign_id: str  # "" for alerts and default content
    item_id: str
    alert_id: str  # "" unless an alert was showing
    plays: int
    shown_s: float
    scheduled_s: float  # the plays' own lengths (what they were meant to last)

    @property
    def source(self) -> str:
        if self.alert_id:
            return ALERT
        return CAMPAIGN if self.campaign_id else DEFAULT


def screen_plays(
    events: Iterable[Event], device_id: str, device: DeviceInfo | None
) -> list[ScreenPlay]:
    """What a batch of one device adds to the per-screen figures."""
    site, timezone = site_of(device)
    days = LocalDays(timezone)
    sums: dict[tuple[str, str, str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for event in events:
        if isinstance(event, PlayEvent):
            play = event.data
            key = (days.of(event.at), play.campaign_id or "", play.item_id, play.alert_id or "")
            totals = sums[key]
            totals[0] += 1
            totals[1] += play.shown_s
            totals[2] += play.scheduled_s
    return [
        ScreenPlay(day, site, device_id, campaign, item, alert, int(n), shown, scheduled)
        for (day, campaign, item, alert), (n, shown, scheduled) in sorted(sums.items())
    ]


# --- the campaign report -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Screen:
    """A screen the campaign targets (or played on), as staff name it."""

    device_id: str
    name: str
    site_id: str
    site: str
    timezone: str
    signage: bool = True  # a Wi-Fi portal shows promotions, not airtime


@dataclass(frozen=True, slots=True)
class CampaignPlan:
    """The campaign as the report needs it, read from the CMS database."""

    campaign_id: str
    name: str
    schedules: tuple[Schedule, ...]
    items: Mapping[str, str]  # item id -> staff's label
    guarantee_s: int | None  # seconds an hour per screen, in whole plays
    published_at: datetime | None  # it was on air from then
    screens: tuple[Screen, ...]  # the screens it targets now


@dataclass(frozen=True, slots=True)
class Figures:
    """Plays and time for one row of the report (a site, a screen, a day, an item)."""

    plays: int = 0
    shown_s: float = 0.0
    play_scheduled_s: float = 0.0  # the plays' own lengths
    window_s: float = 0.0  # how long the schedule had it on air
    guaranteed_s: float = 0.0

    def add(self, other: Figures) -> Figures:
        return Figures(
            self.plays + other.plays,
            self.shown_s + other.shown_s,
            self.play_scheduled_s + other.play_scheduled_s,
            self.window_s + other.window_s,
            self.guaranteed_s + other.guaranteed_s,
        )

    @property
    def share(self) -> float | None:
        """Share of voice achieved: time on screen over time on air."""
        return self.shown_s / self.window_s if self.window_s else None

    @property
    def achieved(self) -> float | None:
        """Time on screen over what the guarantee owed."""
        return self.shown_s / self.guaranteed_s if self.guaranteed_s else None

    @property
    def completed(self) -> float | None:
        """Time shown over the plays' own lengths: below 1, plays were cut short."""
        return self.shown_s / self.play_scheduled_s if self.play_scheduled_s else None

    @property
    def short(self) -> bool:
        """Owed more than it got, or on air and never played."""
        if self.guaranteed_s:
            return self.shown_s < self.guaranteed_s * SHORT_BELOW
        return bool(self.window_s) and not self.plays


@dataclass(frozen=True, slots=True)
class Row:
    key: str  # a site id, a device id, a day or an item id
    label: str
    figures: Figures
    site: str = ""  # the screen's site, on screen rows


@dataclass(frozen=True, slots=True)
class OtherContent:
    """Alerts and default content on the campaign's screens in the period, apart."""

    source: str  # ALERT or DEFAULT
    key: str  # the alert id, or "" for default content
    plays: int
    shown_s: float
    screens: int


@dataclass(frozen=True, slots=True)
class Promotions:
    shown: int = 0
    clicked: int = 0

    @property
    def click_through(self) -> float | None:
        return self.clicked / self.shown if self.shown else None


@dataclass(frozen=True)
class CampaignReport:
    campaign_id: str
    name: str
    start: date
    end: date
    guarantee_s: int | None
    total: Figures
    by_site: tuple[Row, ...]
    by_screen: tuple[Row, ...]
    by_day: tuple[Row, ...]
    by_item: tuple[Row, ...]
    by_month: tuple[Row, ...]  # for long periods, where a row a day is too many to read
    # (day, device id) -> figures, for the CSV and the per-screen-per-day chart
    by_day_and_screen: Mapping[tuple[str, str], Figures]
    screens_targeted: int
    screens_reached: int
    sites_targeted: int
    sites_reached: int
    promotions: Promotions
    promotions_by_site: Mapping[str, Promotions]
    scans: int
    scans_by_site: Mapping[str, int]
    other: tuple[OtherContent, ...]
    screens: Mapping[str, Screen] = field(default_factory=dict)


def days_of(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def window_by_day(
    plan: CampaignPlan, timezone: str, days: Sequence[date], now: datetime
) -> dict[str, float]:
    """Seconds the campaign's schedule was open on a screen in `timezone`, per local day,
    from publication (it owed nothing before) up to `now` (the rest has not happened)."""
    zone = ZoneInfo(timezone)
    out: dict[str, float] = {}
    since = plan.published_at.astimezone(UTC) if plan.published_at else None
    for day in days:
        first = datetime.combine(day, time(0), zone).astimezone(UTC)
        last = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
        if since is not None:
            first = max(first, since)
        last = min(last, now.astimezone(UTC))
        if last > first:
            seconds = open_seconds(open_spans(plan.schedules, first, last, zone))
            if seconds:
                out[day.isoformat()] = seconds
    return out


def build_campaign_report(
    plan: CampaignPlan,
    start: date,
    end: date,
    plays: Iterable[ScreenPlay],
    now: datetime,
    *,
    known_screens: Mapping[str, Screen] | None = None,
    promotions: Mapping[str, Promotions] | None = None,
    scans: Mapping[str, int] | None = None,
    site_names: Mapping[str, str] | None = None,
) -> CampaignReport:
    """The report for local days `start`..`end`. `plays`: every screen play on the
    campaign's screens in the period (its own, and alerts and default content there);
    `known_screens`: names of screens it played on that it no longer targets;
    `promotions` and `scans` per site id; `site_names` by site id."""
    days = days_of(start, end)
    screens = {s.device_id: s for s in (known_screens or {}).values()}
    screens.update({s.device_id: s for s in plan.screens})
    cells: dict[tuple[str, str, str], Figures] = defaultdict(Figures)  # (day, device, item)
    windows: dict[str, dict[str, float]] = {}  # by time zone: the same for every screen in it
    for screen in plan.screens:
        if not screen.signage:
            continue
        if screen.timezone not in windows:
            windows[screen.timezone] = window_by_day(plan, screen.timezone, days, now)
        for day, seconds in windows[screen.timezone].items():
            owed = (plan.guarantee_s or 0) * seconds / 3600
            cells[(day, screen.device_id, "")] = Figures(window_s=seconds, guaranteed_s=owed)
    other: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0])
    other_screens: dict[tuple[str, str], set[str]] = defaultdict(set)
    for play in plays:
        if play.campaign_id == plan.campaign_id and not play.alert_id:
            key = (play.day, play.device_id, play.item_id)
            cells[key] = cells[key].add(Figures(play.plays, play.shown_s, play.scheduled_s))
            if play.device_id not in screens:
                screens[play.device_id] = Screen(
                    play.device_id, play.device_id, play.site_id, play.site_id, "UTC"
                )
        elif play.source != CAMPAIGN:
            key2 = (play.source, play.alert_id)
            other[key2][0] += play.plays
            other[key2][1] += play.shown_s
            other_screens[key2].add(play.device_id)

    def grouped(key_of: Callable[[str, str, str], str | None]) -> dict[str, Figures]:
        out: dict[str, Figures] = defaultdict(Figures)
        for (day, device, item), figures in cells.items():
            key = key_of(day, device, item)
            if key is not None:
                out[key] = out[key].add(figures)
        return out

    per_site = grouped(lambda d, dev, i: screens[dev].site_id)
    per_screen = grouped(lambda d, dev, i: dev)
    per_day = grouped(lambda d, dev, i: d)
    per_item = grouped(lambda d, dev, i: i or None)
    per_month = grouped(lambda d, dev, i: d[:7])
    per_day_screen: dict[tuple[str, str], Figures] = defaultdict(Figures)
    for (day, device, _item), figures in cells.items():
        per_day_screen[(day, device)] = per_day_screen[(day, device)].add(figures)
    total = Figures()
    for figures in per_screen.values():
        total = total.add(figures)
    site_names = {**(site_names or {}), **{s.site_id: s.site for s in screens.values()}}
    reached = {dev for dev, f in per_screen.items() if f.plays}
    targeted_sites = {s.site_id for s in plan.screens}
    promos = dict(promotions or {})
    scan_counts = dict(scans or {})
    for site_id in set(promos) | set(scan_counts):
        per_site.setdefault(site_id, Figures())
    return CampaignReport(
        campaign_id=plan.campaign_id,
        name=plan.name,
        start=start,
        end=end,
        guarantee_s=plan.guarantee_s,
        total=total,
        by_site=tuple(
            Row(site, site_names.get(site, site), f)
            for site, f in sorted(per_site.items(), key=lambda kv: site_names.get(kv[0], kv[0]))
        ),
        by_screen=tuple(
            Row(dev, screens[dev].name, f, screens[dev].site)
            for dev, f in sorted(
                per_screen.items(), key=lambda kv: (screens[kv[0]].site, screens[kv[0]].name)
            )
        ),
        by_day=tuple(
            Row(d.isoformat(), f"{d:%d/%m/%Y}", per_day.get(d.isoformat(), Figures())) for d in days
        ),
        by_item=tuple(
            Row(item, plan.items.get(item, f"Earlier version of an item ({item})"), f)
            for item, f in sorted(per_item.items(), key=lambda kv: plan.items.get(kv[0], "~"))
        ),
        by_month=tuple(
            Row(month, date.fromisoformat(f"{month}-01").strftime("%B %Y"), per_month[month])
            for month in sorted({d.isoformat()[:7] for d in days})
        ),
        by_day_and_screen=dict(per_day_screen),
        screens_targeted=sum(1 for s in plan.screens if s.signage),
        screens_reached=len(reached),
        sites_targeted=len(targeted_sites),
        sites_reached=len({screens[dev].site_id for dev in reached}),
        promotions=Promotions(
            sum(p.shown for p in promos.values()), sum(p.clicked for p in promos.values())
        ),
        promotions_by_site=promos,
        scans=sum(scan_counts.values()),
        scans_by_site=scan_counts,
        other=tuple(
            OtherContent(source, key, int(v[0]), v[1], len(other_screens[(source, key)]))
            for (source, key), v in sorted(other.items())
        ),
        screens=screens,
    )
