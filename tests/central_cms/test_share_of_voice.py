"""Share of voice as staff use it, on SQLite and PostgreSQL: an editor gives a campaign a
quarter of every hour in the editor, an approver publishes it, the screen's signed
manifest carries the guarantee on each item, the screen's own planner plays a day of
it, and the campaign's airtime page shows every scheduled hour met. Mistakes are
explained beside the field; guarantees that add up to more than the hour on a screen
are named, with the screens, before they reach them.
"""

from __future__ import annotations

import re
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from central_cms import fleet
from central_cms import models as m
from central_cms.publisher import RecordingPublisher
from central_cms.runtime import CmsRuntime
from devices.clock import ManualClock
from testkit.city import World
from testkit.staff import login, make_user
from tests.central_cms.share_of_voice_steps import (
    PERTH_MIDNIGHT,
    SCREEN,
    editor_form,
    ingest,
    latest_manifest,
    play_a_day,
    publish,
)


def _beside_share_field(html: str) -> str:
    found = re.search(r'<p class="field-error" id="share_s_per_hour-error">(.*?)</p>', html, re.S)
    assert found, "no error beside the guaranteed airtime field"
    assert 'aria-describedby="share-hint share_s_per_hour-error" aria-invalid="true"' in html
    return found.group(1)


def test_a_quarter_of_every_hour_from_the_editor_to_the_screen_and_its_proof_of_play(
    app: Flask,
    client: FlaskClient,
    session: Session,
    rt: CmsRuntime,
    world: World,
    publisher: RecordingPublisher,
    clock: ManualClock,
) -> None:
    make_user(session, rt, "comms", m.Role.EDITOR)
    make_user(session, rt, "approver", m.Role.APPROVER)
    # Something else on the same screen all day, to share the rest of the hour.
    publish(session, rt, "Pool opening hours", None)
    token = login(client, "comms")

    saved = client.post("/campaigns/new", data=editor_form(token))
    assert saved.status_code == 302, saved.text
    detail = client.get(saved.location).text
    assert "15 min an hour (25 %): 36 plays of item 1 (10 s), 36 plays of item 2 (15 s)" in detail
    campaign = session.query(m.Campaign).filter_by(name="Swim school term 1").one()
    assert campaign.share_s_per_hour == 900  # stored as seconds, whatever unit staff chose
    edit = client.get(f"/campaigns/{campaign.id}/edit").text
    assert 'name="share_amount" inputmode="decimal" size="6" value="900"' in edit

    client.post(f"/campaigns/{campaign.id}/submit", data={"csrf_token": token})
    approver = app.test_client()
    approver_token = login(approver, "approver")
    approved = approver.post(
        f"/campaigns/{campaign.id}/approve", data={"csrf_token": approver_token}
    )
    assert approved.status_code == 302
    manifest = latest_manifest(publisher, rt, SCREEN)
    shares = {
        item.text.title: item.share_s_per_hour
        for item in manifest.items
        if item.campaign_id == campaign.id and item.text
    }
    assert shares == {"Learn to swim": 360, "Enrol now for term 1": 540}
    others = [item for item in manifest.items if item.campaign_id != campaign.id]
    assert others and all(item.share_s_per_hour is None for item in others)
    assert b"share_s_per_hour" not in others[0].model_dump_json().encode()

    ingest(app, SCREEN, play_a_day(manifest))
    clock.set(PERTH_MIDNIGHT + timedelta(days=1, hours=7))  # early the morning after
    page = client.get(
        f"/analytics/campaigns/{campaign.id}/airtime"
        "?start=2026-12-01&end=2026-12-01&site=north-pool&day=2026-12-01"
    )
    assert page.status_code == 200, page.text
    rows = re.findall(
        r'<tr><th scope="row">(\d\d:\d\d) AWST</th>\s*<td class="num">([\d,]+) s</td>'
        r'<td class="num">([\d,]+) s</td>.*?<td>(.*?)</td></tr>',
        page.text,
        re.S,
    )
    assert [hour for hour, *_ in rows] == [f"{h:02d}:00" for h in range(8, 18)]
    assert all(row[1:] == ("900", "900", "Met") for row in rows), rows
    assert "10 of 10" in page.text


def test_mistakes_are_explained_beside_the_guaranteed_airtime_field(
    client: FlaskClient, session: Session, rt: CmsRuntime, world: World
) -> None:
    make_user(session, rt, "comms", m.Role.EDITOR)
    token = login(client, "comms")
    for changes, expected in (
        ({"share_amount": "a lot"}, "Guaranteed airtime: give a number, like 600 seconds or 15 %."),
        ({"share_amount": "150"}, "a percentage of the hour is from 1 to 100"),
        (
            {"share_amount": "4", "share_unit": "s"},
            "less than one play of the shortest item (10 s)",
        ),
        ({"is_default": "on"}, "default content fills the time nobody else has"),
    ):
        page = client.post("/campaigns/new", data=editor_form(token, **changes))
        assert page.status_code == 400
        assert expected in _beside_share_field(page.text)
        assert 'value="Learn to swim"' in page.text  # what staff typed is kept
    assert session.query(m.Campaign).count() == 0


def test_guarantees_adding_up_to_more_than_the_hour_are_named_with_their_screens(
    app: Flask, client: FlaskClient, session: Session, rt: CmsRuntime, world: World
) -> None:
    publish(session, rt, "Aqua aerobics", 2400)
    second = publish(session, rt, "Swim school", 1800)
    make_user(session, rt, "comms", m.Role.EDITOR)
    login(client, "comms")
    page = client.get(f"/campaigns/{second.id}").text
    assert (
        "Guaranteed airtime adds up to 70 min an hour on 1 screen (sig-north-pool): "
        "Swim school 30 min, Aqua aerobics 40 min. Those screens scale each down in "
        "proportion, to Swim school 25 min 43 s, Aqua aerobics 34 min 17 s."
    ) in page.replace("\n", " ")
    # A campaign at another priority does not compete for the same time.
    urgent = publish(session, rt, "Pool closure notice", 1800)
    urgent.priority = 90
    session.commit()
    assert "adds up to" not in client.get(f"/campaigns/{urgent.id}").text


def test_the_api_takes_and_gives_the_guarantee_as_seconds_per_hour(
    client: FlaskClient, session: Session, rt: CmsRuntime, world: World
) -> None:
    make_user(session, rt, "api-editor", m.Role.EDITOR)
    user = session.query(m.User).filter_by(username="api-editor").one()
    editor = {"Authorization": f"Bearer {fleet.create_api_token(session, rt, user, 'test')}"}
    body = {
        "name": "Swim school",
        "owner_site_id": "north-pool",
        "targets": {"sites": ["north-pool"]},
        "items": [{"kind": "text", "text": {"title": "Learn to swim"}, "duration_s": 10}],
        "share_s_per_hour": 600,
    }
    created = client.post("/api/v1/campaigns", json=body, headers=editor)
    assert created.status_code == 201, created.json
    assert created.get_json()["share_s_per_hour"] == 600
    listed = client.get("/api/v1/campaigns", headers=editor).get_json()
    assert [c["share_s_per_hour"] for c in listed] == [600]
    for wrong in (0, 3601, "600"):
        refused = client.post(
            "/api/v1/campaigns", json={**body, "share_s_per_hour": wrong}, headers=editor
        )
        assert refused.status_code == 422, wrong
    default = client.post("/api/v1/campaigns", json={**body, "is_default": True}, headers=editor)
    assert default.status_code == 422
    assert default.get_json()["field"] == "share_s_per_hour"
    assert session.query(m.Campaign).count() == 1
