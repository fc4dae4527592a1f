"""The campaign proof-of-play report's inputs, read from the CMS database and the analytics
store, for the staff page, the API and the scheduled e-mail alike.

The period is local days in the campaign's own site's time zone (each screen's plays
are filed under its own site's days). Left unchosen, it is the campaign's run so far
(its schedules' dates, up to today), or the last 30 days when they have no dates. An
editor limited to some sites sees only those sites' screens, plays, promotions and scans.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from central_cms import link_tracking, share_of_voice, snapshot
from central_cms import models as m
from central_cms.analytics.model import Filters
from central_cms.analytics.ports import EventStore, report
from central_cms.analytics.proof_of_play import (
    CampaignPlan,
    CampaignReport,
    Promotions,
    Screen,
    build_campaign_report,
)
from central_cms.times import DATE_HINT, parse_date
from devices.protocol import DeviceKind, Schedule

MAX_DAYS = 400
DEFAULT_DAYS = 30


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    problems: tuple[str, ...] = ()

    @property
    def month(self) -> str:
        """'2026-03' when the period is exactly one calendar month, else ''."""
        first = self.start.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        if self.start == first and self.end == following - timedelta(days=1):
            return f"{first:%Y-%m}"
        return ""


def campaign_zone(session: Session, campaign: m.Campaign) -> ZoneInfo:
    site = session.get(m.Site, campaign.owner_site_id)
    return ZoneInfo(site.timezone if site is not None else "UTC")


def _run(campaign: m.Campaign, today: date) -> tuple[date, date]:
    schedules = [Schedule.model_validate(s) for s in campaign.schedules]
    starts = [s.starts_on for s in schedules]
    ends = [s.ends_on for s in schedules]
    if schedules and all(starts) and all(ends):
        first = min(d for d in starts if d is not None)
        last = min(max(d for d in ends if d is not None), today)
        return first, max(first, last)
    return today - timedelta(days=DEFAULT_DAYS - 1), today


def month_choices(campaign: m.Campaign, today: date) -> list[tuple[str, str]]:
    """('2026-03', 'March 2026') for each month of the campaign's run so far, newest first."""
    first, last = _run(campaign, today)
    months: list[tuple[str, str]] = []
    at = first.replace(day=1)
    while at <= last and len(months) < 24:
        months.append((f"{at:%Y-%m}", f"{at:%B %Y}"))
        at = (at + timedelta(days=32)).replace(day=1)
    return months[::-1]


def choose_period(args: Mapping[str, str], campaign: m.Campaign, today: date) -> Period:
    """`month=2026-03`, or `start`/`end` (dd/mm/yyyy or ISO), else the campaign's run."""
    problems: list[str] = []
    month = args.get("month", "")
    if month:
        try:
            first = date.fromisoformat(f"{month}-01")
        except ValueError:
            problems.append("Choose a month from the list.")
        else:
            last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
            return Period(first, last)
    start, end = _run(campaign, today)
    try:
        if args.get("end"):
            end = parse_date(args["end"])
        if args.get("start"):
            start = parse_date(args["start"])
    except ValueError:
        problems.append(f"Write dates as {DATE_HINT}. Showing the campaign's run so far.")
        start, end = _run(campaign, today)
    if end < start:
        problems.append("The end date was before the start date; they have been swapped.")
        start, end = end, start
    if (end - start).days >= MAX_DAYS:
        problems.append(f"At most {MAX_DAYS} days at a time; the start was moved.")
        start = end - timedelta(days=MAX_DAYS - 1)
    return Period(start, end, tuple(problems))


def _item_labels(campaign: m.Campaign) -> dict[str, str]:
    labels = {}
    for item in campaign.items:
        if item.media is not None:
            what = item.media.title
        elif item.text:
            what = str(item.text.get("title") or "text slide")
        else:
            what = item.kind
        labels[item.id] = f"{item.position + 1}. {what}"
    return labels


def plan_of(
    session: Session, campaign: m.Campaign, sites: frozenset[str] | None = None
) -> CampaignPlan:
    """The campaign's schedule, items, guarantee and the screens it targets now (at
    `sites` only, if given)."""
    targets = snapshot.targets_of(campaign.targets)
    specs = {d.id: d for d in snapshot.load_devices(session) if targets.matches(d)}
    screens = _screens(session, set(specs), sites)
    guarantee = None
    if campaign.share_s_per_hour is not None:
        items = [share_of_voice.Share(i.id, i.duration_s, i.weight) for i in campaign.items]
        guarantee = share_of_voice.delivered_s(campaign.share_s_per_hour, items)
    return CampaignPlan(
        campaign_id=campaign.id,
        name=campaign.name,
        schedules=tuple(Schedule.model_validate(s) for s in campaign.schedules),
        items=_item_labels(campaign),
        guarantee_s=guarantee,
        published_at=campaign.approved_at,
        screens=tuple(screens.values()),
    )


def _screens(
    session: Session, device_ids: set[str], sites: frozenset[str] | None
) -> dict[str, Screen]:
    if not device_ids:
        return {}
    query = (
        select(m.Device, m.Site)
        .join(m.Site, m.Site.id == m.Device.site_id)
        .where(m.Device.id.in_(sorted(device_ids)))
    )
    return {
        device.id: Screen(
            device.id,
            device.name or device.id,
            site.id,
            site.name,
            site.timezone,
            signage=device.kind == DeviceKind.SIGNAGE.value,
        )
        for device, site in session.execute(query)
        if sites is None or site.id in sites
    }


def campaign_report(
    session: Session,
    store: EventStore,
    campaign: m.Campaign,
    period: Period,
    now: datetime,
    sites: frozenset[str] | None = None,
) -> CampaignReport:
    """The report over `period`; `sites`: the only sites the reader may see (None: all)."""
    plan = plan_of(session, campaign, sites)
    own = Filters(period.start, period.end, campaign_id=campaign.id)
    plays = [p for p in store.screen_plays(own) if sites is None or p.site_id in sites]
    screen_ids = [s.device_id for s in plan.screens]
    others = Filters(period.start, period.end, campaign_id="")
    plays += store.screen_plays(others, screen_ids) if screen_ids else []
    elsewhere = {p.device_id for p in plays} - set(screen_ids)
    known = _screens(session, elsewhere, sites)
    promotions: dict[str, Promotions] = {}
    for row in report(store, own).promos:
        if sites is None or row.site_id in sites:
            was = promotions.get(row.site_id, Promotions())
            promotions[row.site_id] = Promotions(was.shown + row.shown, was.clicked + row.clicked)
    scans: dict[str, int] = {}
    zone = campaign_zone(session, campaign)
    for count in link_tracking.scan_counts(
        session, period.start, period.end, zone.key, campaign_id=campaign.id
    ):
        if sites is None or count.site_id in sites:
            scans[count.site_id] = scans.get(count.site_id, 0) + count.scans
    site_names = {
        site_id: name for site_id, name in session.execute(select(m.Site.id, m.Site.name))
    }
    return build_campaign_report(
        plan,
        period.start,
        period.end,
        plays,
        now,
        known_screens=known,
        promotions=promotions,
        scans=scans,
        site_names=site_names,
    )


def alert_titles(session: Session, result: CampaignReport) -> dict[str, str]:
    """Staff's titles of the alerts that showed on the campaign's screens."""
    ids = [o.key for o in result.other if o.key]
    if not ids:
        return {}
    query = select(m.Alert.id, m.Alert.title).where(m.Alert.id.in_(ids))
    return {alert_id: title for alert_id, title in session.execute(query)}
