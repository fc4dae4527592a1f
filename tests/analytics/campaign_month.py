"""A two-site campaign over March 2026 and the proof-of-play events its screens sent, for
the report tests (issue 17). The events are generated here from a seeded random, stored
through the real ingest path (`store_batches`), and counted here independently of the
report code: the test's own tally, by each site's local day.

Riverton is in Perth (UTC+8), Bondi in Sydney (UTC+11 in March): plays just before and
after local midnight at the month's edges land on either side of the period depending
on the site's zone, so a report that used one zone for both would miscount.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from central_cms import campaigns
from central_cms import models as m
from central_cms.analytics.ports import EventStore, FleetStore
from central_cms.compiler import Targets
from central_cms.runtime import CmsRuntime
from devices.protocol import (
    DeviceKind,
    EventBatch,
    ItemKind,
    PlayEvent,
    ProfileKind,
    PromoClickedData,
    PromoClickedEvent,
    PromoShownData,
    PromoShownEvent,
    Schedule,
    TextSlide,
    TimeWindow,
)
from devices.protocol.events_wire import from_model
from testkit.city import add_profile, add_screen, add_site
from testkit.staff import ADMIN, APPROVER
from tests.analytics.events import play

MARCH = (date(2026, 3, 1), date(2026, 3, 31))
PUBLISHED_AT = datetime(2026, 2, 20, 0, 0, tzinfo=UTC)
NOW = datetime(2026, 4, 6, 2, 0, tzinfo=UTC)
ZONES = {"riverton": "Australia/Perth", "bondi": "Australia/Sydney", "willetton": "Australia/Perth"}
SCREENS = {
    "sig-riverton-foyer": "riverton",
    "sig-riverton-pool": "riverton",
    "sig-bondi-foyer": "bondi",
    "sig-bondi-library": "bondi",
}
PORTAL = "portal-riverton"
ELSEWHERE = "sig-willetton-foyer"  # not targeted: its plays of other campaigns never count


@dataclass
class Tally:
    """What the test itself counted of the campaign's plays in March, by site and screen."""

    plays: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    shown_s: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    screen_plays: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    screen_shown_s: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    day_screen: dict[tuple[str, str], tuple[int, float]] = field(default_factory=dict)
    alert_plays: int = 0
    default_plays: int = 0
    promos_shown: int = 0
    promos_clicked: int = 0

    @property
    def total_plays(self) -> int:
        return sum(self.plays.values())

    @property
    def total_shown_s(self) -> float:
        return sum(self.shown_s.values())


def build_city(session: Session, rt: CmsRuntime) -> m.Campaign:
    """Three sites, five screens and a portal; the campaign, published on 20 February,
    targets Riverton and Bondi, every day of March from 07:00 to 09:00."""
    for site_id, zone in ZONES.items():
        add_site(session, rt, site_id, timezone=zone)
    add_profile(session, rt, "indoor", ProfileKind.INDOOR)
    add_profile(session, rt, "splash", ProfileKind.PORTAL)
    session.commit()
    for device_id, site_id in SCREENS.items():
        add_screen(session, rt, device_id, site_id, "indoor")
    add_screen(session, rt, ELSEWHERE, "willetton", "indoor")
    add_screen(session, rt, PORTAL, "riverton", "splash", kind=DeviceKind.PORTAL)
    session.commit()
    data = campaigns.CampaignInput(
        name="Autumn holiday programme",
        owner_site_id="riverton",
        items=(
            campaigns.ItemInput(
                kind=ItemKind.TEXT, text=TextSlide(title="Holiday swim camp"), duration_s=10
            ),
            campaigns.ItemInput(
                kind=ItemKind.TEXT, text=TextSlide(title="Library craft days"), duration_s=15
            ),
        ),
        targets=Targets(sites=frozenset({"riverton", "bondi"})),
        schedules=(
            Schedule(
                starts_on=MARCH[0],
                ends_on=MARCH[1],
                windows=(TimeWindow(start=time(7, 0), end=time(9, 0)),),
            ),
        ),
    )
    campaign = campaigns.save(session, rt, ADMIN, data)
    campaigns.submit(session, rt, ADMIN, campaign.id)
    if campaign.status != m.CampaignStatus.PUBLISHED:
        campaigns.approve(session, rt, APPROVER, campaign.id)
    campaign.approved_at = PUBLISHED_AT
    session.commit()
    return campaign


def generate(campaign: m.Campaign, store: EventStore, fleet: FleetStore, seed: int = 17) -> Tally:
    """Plays from 27 February to 3 April on every screen, stored through the ingest
    path; the tally counts the campaign's plays of March local days only."""
    rng = random.Random(seed)
    items = [(i.id, i.duration_s) for i in campaign.items]
    tally = Tally()
    cells: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0])
    for device_id, site_id in [*SCREENS.items(), (ELSEWHERE, "willetton")]:
        zone = ZoneInfo(ZONES[site_id])
        events: list[PlayEvent] = []
        day = date(2026, 2, 27)
        while day <= date(2026, 4, 3):
            # In the window (07:00-09:00 local), and default content either side of
            # local midnight: Bondi's 07:00 on 1 March is still 28 February in UTC.
            moments = [
                time(7 + rng.randrange(2), rng.randrange(60), rng.randrange(60))
                for _ in range(rng.randrange(60, 110))
            ]
            edges = [time(23, 59, 30), time(0, 0, 30)]
            for edge in edges:
                at = datetime.combine(day, edge, zone).astimezone(UTC)
                events.append(play(len(events) + 1, at, None, 10, 10, "default-1"))
                if device_id != ELSEWHERE and MARCH[0] <= day <= MARCH[1]:
                    tally.default_plays += 1
            for moment in moments:
                at = datetime.combine(day, moment, zone).astimezone(UTC)
                roll = rng.random()
                seq = len(events) + 1
                if device_id == ELSEWHERE or roll < 0.05:
                    events.append(play(seq, at, None, 10, 10, "default-1"))
                    if (
                        device_id != ELSEWHERE
                        and MARCH[0] <= at.astimezone(zone).date() <= MARCH[1]
                    ):
                        tally.default_plays += 1
                elif roll < 0.08:
                    events.append(play(seq, at, None, 30, 30, "alert-item", alert="heat-warning"))
                    if MARCH[0] <= at.astimezone(zone).date() <= MARCH[1]:
                        tally.alert_plays += 1
                else:
                    item, length = items[rng.randrange(len(items))]
                    # whole seconds, so every sum is exact whatever order a store adds them in
                    shown = length if rng.random() < 0.9 else float(rng.randint(1, int(length) - 1))
                    events.append(play(seq, at, campaign.id, shown, length, item))
                    local_day = at.astimezone(zone).date()
                    if MARCH[0] <= local_day <= MARCH[1]:
                        tally.plays[site_id] += 1
                        tally.shown_s[site_id] += shown
                        tally.screen_plays[device_id] += 1
                        tally.screen_shown_s[device_id] += shown
                        cell = cells[(local_day.isoformat(), device_id)]
                        cell[0] += 1
                        cell[1] += shown
            day += timedelta(days=1)
        _store(store, fleet, device_id, events)
    tally.day_screen = {k: (int(v[0]), v[1]) for k, v in cells.items()}
    promos: list[PromoShownEvent | PromoClickedEvent] = []
    zone = ZoneInfo(ZONES["riverton"])
    for n in range(60):
        at = datetime.combine(date(2026, 3, 1 + n % 31), time(12, n % 60), zone).astimezone(UTC)
        clicked = n % 4 == 0
        fields = {
            "client_hash": "ab" * 8,
            "item_id": campaign.items[0].id,
            "campaign_id": campaign.id,
        }
        if clicked:
            promos.append(
                PromoClickedEvent(
                    id=str(uuid.uuid4()), seq=n + 1, at=at, data=PromoClickedData(**fields)
                )
            )
            tally.promos_clicked += 1
        else:
            promos.append(
                PromoShownEvent(
                    id=str(uuid.uuid4()), seq=n + 1, at=at, data=PromoShownData(**fields)
                )
            )
            tally.promos_shown += 1
    _store(store, fleet, PORTAL, promos)
    return tally


def _store(store: EventStore, fleet: FleetStore, device_id: str, events: Sequence[object]) -> None:
    device = fleet.device(device_id)
    assert device is not None, f"{device_id} is not in the analytics directory"
    epoch = uuid.uuid4().hex
    for start in range(0, len(events), 200):
        batch = EventBatch(
            device_id=device_id, outbox_epoch=epoch, events=tuple(events[start : start + 200])
        )
        store.store_batches([(from_model(batch), device)])
