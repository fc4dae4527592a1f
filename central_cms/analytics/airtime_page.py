"""The campaign airtime page's inputs, read from the CMS database: the guarantee as the
screens play it, its schedules, the signage screens it reaches and the days asked for."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from central_cms import models as m
from central_cms import share_of_voice, snapshot
from central_cms.analytics.airtime import DayFigure, guarantee_by_day
from central_cms.analytics.model import Filters
from devices.protocol import DeviceKind, Schedule


@dataclass(frozen=True)
class CampaignAirtime:
    share_s: int  # each fully scheduled hour, per screen, in whole plays
    schedules: tuple[Schedule, ...]
    screens: int  # signage screens reached (at the chosen site)
    zone: ZoneInfo
    days: tuple[date, ...]
    now: datetime
    published_at: datetime | None  # it owed nothing before

    @property
    def start(self) -> datetime:
        return datetime.combine(self.days[0], time(0), self.zone).astimezone(UTC)

    @property
    def stop(self) -> datetime:
        after = self.days[-1] + timedelta(days=1)
        return datetime.combine(after, time(0), self.zone).astimezone(UTC)

    def by_day(self, achieved: Mapping[datetime, float]) -> list[DayFigure]:
        return guarantee_by_day(
            self.share_s,
            self.schedules,
            self.screens,
            self.zone,
            self.days,
            achieved,
            self.now,
            self.published_at,
        )


def figures(
    session: Session, campaign: m.Campaign, filters: Filters, now: datetime
) -> CampaignAirtime:
    assert campaign.share_s_per_hour is not None
    items = [share_of_voice.Share(i.id, i.duration_s, i.weight) for i in campaign.items]
    targets = snapshot.targets_of(campaign.targets)
    screens = [
        d
        for d in snapshot.load_devices(session)
        if d.kind is DeviceKind.SIGNAGE
        and targets.matches(d)
        and (filters.site_id is None or d.site_id == filters.site_id)
    ]
    site = session.get(m.Site, filters.site_id or campaign.owner_site_id)
    zone = ZoneInfo(site.timezone if site is not None else "UTC")
    span = (filters.end - filters.start).days + 1
    return CampaignAirtime(
        share_s=share_of_voice.delivered_s(campaign.share_s_per_hour, items),
        schedules=tuple(Schedule.model_validate(s) for s in campaign.schedules),
        screens=len(screens),
        zone=zone,
        days=tuple(filters.start + timedelta(days=n) for n in range(span)),
        now=now,
        published_at=campaign.approved_at,
    )


def chosen_day(days: Sequence[DayFigure], raw: str) -> DayFigure | None:
    """The day whose hours are listed: the one asked for, else the latest scheduled."""
    for day in days:
        if day.day.isoformat() == raw:
            return day
    scheduled = [day for day in days if day.hours]
    return scheduled[-1] if scheduled else None
