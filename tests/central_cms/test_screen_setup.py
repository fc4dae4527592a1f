"""A screen's rotation and power schedule set in the CMS (issue 18): checked as staff type
it, stored on the device, and carried to it in the next manifest with the portrait
rendition of each picture."""

from __future__ import annotations

from datetime import time

import pytest
from sqlalchemy import select

from central_cms import campaigns, fleet
from central_cms import models as m
from central_cms.errors import Invalid
from central_cms.policy import Actor, Forbidden
from central_cms.screen_setup import ScreenSetup, checked_setup
from devices.protocol import Manifest, TimeWindow, Weekday, parse_signed
from testkit.staff import ADMIN, APPROVER
from tests.central_cms.test_manifests import swim

IT = Actor("test-it", m.Role.IT)
FOYER = "sig-north-pool"


def last_manifest(publisher, rt, device_id: str) -> Manifest:
    payloads = [p for topic, p, _ in publisher.sent if topic.endswith(f"/{device_id}/manifest")]
    return parse_signed(Manifest, payloads[-1], [rt.signing_key.public_key])


def set_up(session, rt, actor, setup: ScreenSetup) -> None:
    device = session.get(m.Device, FOYER)
    fleet.update_device(
        session,
        rt,
        actor,
        FOYER,
        name=device.name,
        site_id=device.site_id,
        profile_id=device.profile_id,
        tags=list(device.tags),
        setup=setup,
    )


def test_a_portrait_screen_with_its_own_hours_gets_them_and_a_portrait_picture(
    session, rt, world, publisher
):
    campaign = campaigns.save(session, rt, ADMIN, swim(world))
    campaigns.submit(session, rt, ADMIN, campaign.id)
    campaigns.approve(session, rt, APPROVER, campaign.id)
    form = {
        "rotation_deg": "270",
        "power_mode": "own",
        "opens_mon": "07:00",
        "closes_mon": "21:00",
        "opens_sat": "22:00",  # a late opening, off at 02:00 on Sunday
        "closes_sat": "02:00",
    }
    set_up(session, rt, IT, checked_setup(form, ()))

    manifest = last_manifest(publisher, rt, FOYER)
    assert manifest.display is not None and manifest.display.rotation_deg == 270
    assert manifest.canvas == (1080, 1920)
    power = manifest.display.power_on
    assert power is not None
    assert [(s.days, s.windows) for s in power] == [
        ((Weekday.MON,), (TimeWindow(start=time(7), end=time(21)),)),
        ((Weekday.SAT,), (TimeWindow(start=time(22), end=time(2)),)),
    ]
    (poster,) = [i for i in manifest.items if i.campaign_id == campaign.id]
    made = session.scalars(
        select(m.Rendition).where(
            m.Rendition.sha256 == poster.asset, m.Rendition.profile_id == "indoor"
        )
    ).one()
    assert (made.width_px, made.height_px) == (1080, 1920)
    assert manifest.asset(made.sha256).content_type == "image/jpeg"
    # The landscape screens keep their landscape rendition of the same poster.
    landscape = session.scalars(
        select(m.Rendition).where(
            m.Rendition.media_id == world.media["poster"], m.Rendition.width_px == 1920
        )
    ).all()
    assert landscape

    device = session.get(m.Device, FOYER)
    assert (device.rotation_deg, device.power_mode) == (270, "own")
    assert device.power_hours[0] == {"day": "mon", "opens": "07:00:00", "closes": "21:00:00"}


def test_only_it_and_admins_may_change_how_a_screen_is_set_up(session, rt, world):
    editor = Actor("test-editor", m.Role.EDITOR)
    with pytest.raises(Forbidden):
        set_up(session, rt, editor, ScreenSetup(rotation_deg=90))
    assert session.get(m.Device, FOYER).rotation_deg == 0


@pytest.mark.parametrize(
    ("form", "field", "says"),
    [
        ({"rotation_deg": "45"}, "rotation_deg", "Choose how the screen is mounted."),
        ({"power_mode": "sometimes"}, "power_mode", "Choose when the screen is on."),
        ({"power_mode": "opening-hours"}, "power_mode", "This site has no opening hours yet"),
        ({"power_mode": "own"}, "power_hours", "at least one day"),
        (
            {"power_mode": "own", "opens_tue": "07:00"},
            "power_hours",
            "Tuesday: give both an on and an off time",
        ),
        (
            {"power_mode": "own", "opens_wed": "09:00", "closes_wed": "09:00"},
            "power_hours",
            "Wednesday: give both",
        ),
    ],
)
def test_what_staff_type_is_refused_with_a_message_naming_the_field(form, field, says):
    with pytest.raises(Invalid) as refused:
        checked_setup(form, ())
    assert refused.value.field == field
    assert says in refused.value.message
