"""A London pool for the plan and preview tests: a foyer screen and a Wi-Fi splash, a
late swim that runs across midnight, default content, and the clocks going back on the
last Sunday of October 2026 (01:00 UTC on the 25th: 02:00 BST becomes 01:00 GMT)."""

from __future__ import annotations

from datetime import date, time

from sqlalchemy.orm import Session

from central_cms import campaigns, fleet
from central_cms import models as m
from central_cms.compiler import Targets
from central_cms.runtime import CmsRuntime
from devices.protocol import DeviceKind, ItemKind, Schedule, TextSlide, TimeWindow, Weekday
from testkit.staff import ADMIN, APPROVER

SITE = "riverside-baths"
FOYER = "sig-riverside-foyer"
SPLASH = "portal-riverside"
WEEK_OF_CLOCK_CHANGE = date(2026, 10, 19)  # Monday; Sunday the 25th has 25 hours


def _text(title: str) -> campaigns.ItemInput:
    return campaigns.ItemInput(
        kind=ItemKind.TEXT, duration_s=10, text=TextSlide(title=title), alt_text=title
    )


def _publish(session: Session, rt: CmsRuntime, data: campaigns.CampaignInput) -> str:
    campaign = campaigns.save(session, rt, ADMIN, data)
    campaigns.submit(session, rt, ADMIN, campaign.id)
    if campaign.status == m.CampaignStatus.PENDING:
        campaigns.approve(session, rt, APPROVER, campaign.id)
    return campaign.id


def london_pool(session: Session, rt: CmsRuntime, suffix: str = "") -> dict[str, str]:
    """Made through the service functions; returns campaign ids by name. `suffix` goes
    on the device ids (the shared broker keeps retained manifests across tests)."""
    fleet.save_site(
        session,
        rt,
        ADMIN,
        site_id=SITE,
        name="Riverside Baths",
        address="",
        timezone="Europe/London",
        requires_approval=True,
    )
    site = session.get(m.Site, SITE)
    assert site is not None
    site.portal_settings = {"ssid": "City Free WiFi", "terms": {"version": "1", "text": {}}}
    session.commit()
    for device_id, kind, profile, name in (
        (FOYER, DeviceKind.SIGNAGE, "indoor", "Foyer screen"),
        (SPLASH, DeviceKind.PORTAL, "splash", "Wi-Fi splash"),
    ):
        fleet.register_device(
            session,
            rt,
            ADMIN,
            device_id=device_id + suffix,
            name=name,
            kind=kind,
            site_id=SITE,
            profile_id=profile,
            tags=[],
        )
    here = Targets(sites=frozenset({SITE}))
    late = Schedule(days=(Weekday.SAT,), windows=(TimeWindow(start=time(22, 0), end=time(2, 0)),))
    return {
        "Welcome": _publish(
            session,
            rt,
            campaigns.CampaignInput(
                name="Welcome",
                owner_site_id=SITE,
                items=(_text("Welcome to Riverside Baths"),),
                targets=here,
                is_default=True,
                public_title="Welcome to Riverside Baths",
            ),
        ),
        "Late swim": _publish(
            session,
            rt,
            campaigns.CampaignInput(
                name="Late swim",
                owner_site_id=SITE,
                items=(_text("Late swim tonight"),),
                targets=here,
                schedules=(late,),
                priority=70,
                public_title="Late swim tonight",
            ),
        ),
    }
