"""IT rolls out a release on the Software page in Chromium (issue 18): uploads the wheel,
makes a group follow "stable", starts the rollout with a pilot screen, and, when the
pilot reports that the release rolled back, sees the channel stopped and why. Editors
do not get the page. The page passes axe and fits a phone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from central_cms import db as cms_db
from central_cms import groups, releases
from central_cms import models as m
from central_cms.runtime import parts, runtime
from devices.protocol import DeviceKind, DeviceState, Status
from devices.protocol.releases import UpdateReport, UpdateState
from testkit.browsers import assert_accessible, shot, sign_in
from testkit.city import make_world
from testkit.releases import build_wheel
from testkit.staff import ADMIN, make_user

pytestmark = pytest.mark.browser

PILOT = "sig-north-pool"


def test_it_rolls_out_a_release_and_sees_it_stop(server, browser, shots, tmp_path):
    app, base = server
    rt = runtime(app)
    with cms_db.database(app).sessions() as session:
        world = make_world(session, rt)
        make_user(session, rt, "ingrid", m.Role.IT)
        make_user(session, rt, "eddie", m.Role.EDITOR)
        screens = [d for d in world.devices if d.startswith("sig-")]
        groups.save(session, rt, ADMIN, name="Indoor screens", device_ids=screens)
        session.commit()
    wheel = build_wheel("2.0.0", tmp_path)

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, base, "ingrid")
    page.get_by_role("link", name="Software").click()
    page.get_by_label("Release wheel (.whl)").set_input_files(str(wheel))
    page.get_by_label("What changed").fill("Faster start-up")
    page.get_by_role("button", name="Upload release").click()
    expect(page.get_by_text("Uploaded release 2.0.0.")).to_be_visible()

    page.get_by_label("Device group").select_option(label="Indoor screens")
    page.get_by_label("Channel", exact=True).last.fill("stable")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("“Indoor screens” now follows channel “stable”.")).to_be_visible()

    page.get_by_label("Release", exact=True).select_option("2.0.0")
    page.get_by_label(PILOT).check()
    page.get_by_role("button", name="Start the rollout").click()
    expect(page.get_by_text(f"first {PILOT}")).to_be_visible()
    channel = page.get_by_role("region", name="“stable”: release 2.0.0, pilot screens first")
    expect(channel.get_by_role("row", name=f"{PILOT} Offered, installing")).to_be_visible()
    expect(channel.get_by_role("row", name="sig-south-library Not offered yet")).to_be_visible()

    # The pilot reports (retained status, as the ingest files it) that 2.0.0 rolled back.
    fleet = parts(app).analytics.stores.fleet
    now = datetime.now(UTC)
    fleet.record_status(
        Status(
            device_id=PILOT, kind=DeviceKind.SIGNAGE, state=DeviceState.ONLINE,
            software_version="1.0.0", at=now,
            update=UpdateReport(
                version="2.0.0", state=UpdateState.ROLLED_BACK, at=now,
                detail="2.0.0 was not healthy within 120 s",
            ),
        ),
        now,
    )  # fmt: skip
    with cms_db.database(app).sessions() as session:
        releases.advance(session, rt, fleet)
    page.reload()
    stopped = page.get_by_role("region", name="“stable”: release 2.0.0, stopped")
    expect(stopped.get_by_text(f"Stopped because {PILOT}: 2.0.0 was not healthy")).to_be_visible()
    expect(stopped.get_by_role("row", name=f"{PILOT} Failed, rolled back")).to_be_visible()
    assert_accessible(page, "software page")
    shot(page, shots / "software-stopped.png", full_page=True)

    page.get_by_role("link", name="Device health").click()  # IT's fleet view shows it too
    pilot_row = page.get_by_role("row").filter(has_text=PILOT).first
    expect(pilot_row).to_contain_text("1.0.0 2.0.0 rolled back")
    page.go_back()

    page.set_viewport_size({"width": 390, "height": 844})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide on a phone"
    shot(page, shots / "software-phone.png", full_page=True)

    editor = browser.new_page()
    sign_in(editor, base, "eddie")
    expect(editor.get_by_role("link", name="Software")).to_have_count(0)
    assert editor.goto(f"{base}/software/").status == 403
