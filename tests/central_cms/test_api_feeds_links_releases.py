"""What the Live feeds, Analytics (QR code scans) and Software pages do, the REST API does
(issue 17), walked as an API client would on both databases, with the pages' permissions:
a site editor keeps their site's feeds only, sees their own screens' codes only, and is
refused IT's releases."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from central_cms import models as m
from central_cms.runtime import parts
from devices.protocol import DeviceKind, DeviceState, Status, parse_signed
from devices.protocol.feeds import FeedData
from devices.protocol.releases import Release
from devices.protocol.topics import feed_topic, release_topic
from testkit.releases import build_wheel
from tests.central_cms.feed_bodies import classes_ics
from tests.central_cms.feed_source import Answer, FeedSource, serve
from tests.central_cms.test_api_parity import manifests_sent, token_for
from tests.central_cms.test_short_links import BOOKING, publish


@pytest.fixture
def source() -> Iterator[FeedSource]:
    yield from serve()


def _signed(publisher, rt, kind, topic):
    payloads = [p for t, p, _ in publisher.sent if t == topic]
    assert payloads, f"nothing published on {topic}"
    return parse_signed(kind, payloads[-1], [rt.signing_key.public_key])


def test_a_site_editor_keeps_their_sites_feeds_through_the_api(
    client, session, rt, world, publisher, source
):
    pool = token_for(session, rt, "pool-editor", m.Role.EDITOR, ["north-pool"])
    library = token_for(session, rt, "library-editor", m.Role.EDITOR, ["south-library"])
    viewer = token_for(session, rt, "api-viewer", m.Role.VIEWER)
    source.answer = Answer(body=classes_ics())
    body = {
        "id": "pool-classes",
        "name": "Pool classes",
        "url": source.url(),
        "kind": "ical",
        "site_id": "north-pool",
    }
    refused = client.post("/api/v1/feeds", json=body, headers=library)
    assert refused.status_code == 403 and "north-pool" in refused.json["message"]
    city_wide = client.post("/api/v1/feeds", json={**body, "site_id": None}, headers=pool)
    assert city_wide.status_code == 403 and "every site" in city_wide.json["message"]
    assert client.post("/api/v1/feeds", json=body, headers=viewer).status_code == 403
    created = client.post("/api/v1/feeds", json=body, headers=pool)
    assert created.status_code == 201, created.json
    assert created.json["refresh_minutes"] == 15 and created.json["max_age_hours"] == 24
    assert created.json["health"]["level"] == "pending"
    splash = manifests_sent(publisher, rt)["portal-north-pool"]  # "What's on" names it
    assert "pool-classes" in {ref.id for ref in splash.feeds}
    taken = client.post("/api/v1/feeds", json=body, headers=pool)
    assert taken.status_code == 422 and taken.json["field"] == "id"
    assert source.requests == []  # registering fetches nothing yet

    listed = client.get("/api/v1/feeds", headers=viewer)  # reading is anyone's, as the page
    assert [f["id"] for f in listed.json] == ["pool-classes"]

    assert client.post("/api/v1/feeds/pool-classes/fetch", headers=library).status_code == 403
    fetched = client.post("/api/v1/feeds/pool-classes/fetch", headers=pool)
    assert fetched.status_code == 200, fetched.json
    assert fetched.json["ok"] and fetched.json["changed"] and fetched.json["error"] is None
    assert fetched.json["feed"]["title"] == "North Pool classes"
    assert fetched.json["feed"]["health"]["level"] == "ok"
    assert len(source.requests) == 1
    sent = _signed(publisher, rt, FeedData, feed_topic("pool-classes"))
    assert "Aquarobics" in {entry.title for entry in sent.entries}
    assert fetched.json["feed"]["entries"] == len(sent.entries)

    change = {**body, "name": "Pool timetable", "refresh_minutes": 30}
    del change["id"]
    assert client.put("/api/v1/feeds/pool-classes", json=change, headers=library).status_code == 403
    changed = client.put("/api/v1/feeds/pool-classes", json=change, headers=pool)
    assert changed.status_code == 200, changed.json
    again = client.get("/api/v1/feeds/pool-classes", headers=viewer).json
    assert (again["name"], again["refresh_minutes"]) == ("Pool timetable", 30)
    too_often = client.put("/api/v1/feeds/pool-classes", json={**change, "refresh_minutes": 1},
                           headers=pool)  # fmt: skip
    assert too_often.status_code == 422 and too_often.json["field"] == "refresh_minutes"

    # The source breaks: the answer says why, the screens keep the last good copy.
    source.answer = Answer(status=500)
    failing = client.post("/api/v1/feeds/pool-classes/fetch", headers=pool).json
    assert not failing["ok"] and "HTTP 500" in failing["error"]
    assert failing["feed"]["health"]["level"] == "warning"
    assert failing["feed"]["entries"] == len(sent.entries)

    assert client.delete("/api/v1/feeds/pool-classes", headers=library).status_code == 403
    deleted = client.delete("/api/v1/feeds/pool-classes", headers=pool)
    assert deleted.status_code == 204 and deleted.data == b""
    assert (feed_topic("pool-classes"), b"", True) in publisher.sent  # withdrawn
    splash = manifests_sent(publisher, rt)["portal-north-pool"]  # its "What's on" drops it
    assert "pool-classes" not in {ref.id for ref in splash.feeds}
    assert client.get("/api/v1/feeds/pool-classes", headers=pool).status_code == 404
    assert client.post("/api/v1/feeds/pool-classes/fetch", headers=pool).status_code == 404


def test_a_campaigns_codes_and_their_scans_through_the_api(
    app, client, session, rt, world, publisher, clock
):
    viewer = token_for(session, rt, "api-viewer", m.Role.VIEWER)
    library = token_for(session, rt, "library-editor", m.Role.EDITOR, ["south-library"])
    campaign = publish(session, rt, world)
    codes = {}
    for device_id, qr in (
        (d, manifests_sent(publisher, rt)[d].items[0].qr)
        for d in ("sig-north-pool", "sig-south-library")
    ):
        assert qr is not None
        codes[device_id] = qr.url
    for device_id, times in (("sig-north-pool", 3), ("sig-south-library", 1)):
        for _ in range(times):
            assert client.get(urlsplit(codes[device_id]).path).status_code == 302
    clock.advance(timedelta(days=2))
    assert client.get(urlsplit(codes["sig-north-pool"]).path).status_code == 302

    url = f"/api/v1/campaigns/{campaign.id}/short-links"
    everything = client.get(url, headers=viewer)
    assert everything.status_code == 200, everything.json
    assert everything.json["scans"] == 5
    by_screen = {row["device_id"]: row for row in everything.json["links"]}
    assert {d: r["scans"] for d, r in by_screen.items()} == {
        "sig-north-pool": 4,
        "sig-south-library": 1,
    }
    assert {d: r["url"] for d, r in by_screen.items()} == codes  # what the QR codes say
    assert by_screen["sig-north-pool"]["destination"] == BOOKING
    assert by_screen["sig-north-pool"]["site_id"] == "north-pool"

    today = clock.now().date().isoformat()  # T0 + 2 days is 08:00 in Perth: same date
    recent = client.get(f"{url}?start={today}&end={today}", headers=viewer).json
    assert {r["device_id"]: r["scans"] for r in recent["links"]} == {
        "sig-north-pool": 1,
        "sig-south-library": 0,
    }
    # A site editor sees the codes of their own site's screens only, as on Analytics.
    own = client.get(url, headers=library).json
    assert [r["device_id"] for r in own["links"]] == ["sig-south-library"] and own["scans"] == 1
    assert client.get(f"{url}?start=someday", headers=viewer).status_code == 422
    assert client.get("/api/v1/campaigns/no-such/short-links", headers=viewer).status_code == 404
    assert client.get(url).status_code == 401


def test_it_rolls_out_a_release_through_the_api_and_an_editor_cannot(
    app, client, session, rt, world, publisher, clock, tmp_path
):
    it = token_for(session, rt, "api-it", m.Role.IT)
    editor = token_for(session, rt, "api-editor", m.Role.EDITOR)
    screens = sorted(d for d in world.devices if d.startswith("sig-"))
    pilot, *others = screens
    group = client.post(
        "/api/v1/groups", json={"name": "Indoor", "device_ids": screens}, headers=it
    ).json

    follow = {"channel": "stable"}
    path = f"/api/v1/groups/{group['id']}/channel"
    assert client.put(path, json=follow, headers=editor).status_code == 403
    publisher.sent.clear()
    followed = client.put(path, json=follow, headers=it)
    assert followed.status_code == 200 and followed.json == {
        "group_id": group["id"],
        "channel": "stable",
    }
    assert {d: mf.software_channel for d, mf in manifests_sent(publisher, rt).items()} == {
        d: "stable" for d in screens
    }
    assert client.put("/api/v1/groups/nope/channel", json=follow, headers=it).status_code == 404

    wheel = build_wheel("2.0.0", tmp_path / "wheels").read_bytes()

    def upload(data: bytes, headers: dict[str, str]):
        return client.post(
            "/api/v1/releases",
            headers=headers,
            content_type="multipart/form-data",
            data={"wheel": (io.BytesIO(data), "digital_spaces-2.0.0-py3-none-any.whl"),
                  "notes": "Faster start-up"},
        )  # fmt: skip

    assert upload(wheel, editor).status_code == 403
    uploaded = upload(wheel, it)
    assert uploaded.status_code == 201, uploaded.json
    assert uploaded.json["version"] == "2.0.0" and uploaded.json["uploaded_by"] == "api-it"
    assert uploaded.json["sha256"] == hashlib.sha256(wheel).hexdigest()
    assert upload(wheel, it).status_code == 409  # that version is there already
    broken = upload(b"MZ not a wheel", it)
    assert broken.status_code == 422 and "not even a zip" in broken.json["message"]
    assert [r["version"] for r in client.get("/api/v1/releases", headers=it).json] == ["2.0.0"]
    assert client.get("/api/v1/releases", headers=editor).status_code == 403

    offer = {"version": "2.0.0", "pilots": [pilot], "percent": 50}
    assert client.put("/api/v1/channels/stable", json=offer, headers=editor).status_code == 403
    unknown = client.put("/api/v1/channels/stable", json={**offer, "version": "9.9"}, headers=it)
    assert unknown.status_code == 422 and unknown.json["field"] == "version"
    offered = client.put("/api/v1/channels/stable", json=offer, headers=it)
    assert offered.status_code == 200, offered.json
    channel = offered.json
    assert (channel["stage"], channel["pilots"], channel["percent"]) == ("pilot", [pilot], 50)
    assert channel["waiting"] == [pilot] and channel["not_offered"] == others
    sent = _signed(publisher, rt, Release, release_topic("stable"))
    assert sent.version == "2.0.0" and sent.rollout.pilots == (pilot,)

    # The pilot reports running it: the channel's progress says so.
    status = Status(
        device_id=pilot, kind=DeviceKind.SIGNAGE, state=DeviceState.ONLINE,
        software_version="2.0.0", at=clock.now(),
    )  # fmt: skip
    parts(app).analytics.stores.fleet.record_status(status, clock.now())
    progress = client.get("/api/v1/channels/stable", headers=it).json
    assert progress["running"] == [pilot] and progress["waiting"] == []
    assert [c["name"] for c in client.get("/api/v1/channels", headers=it).json] == ["stable"]
    assert client.get("/api/v1/channels", headers=editor).status_code == 403
    assert client.get("/api/v1/channels/stable", headers=editor).status_code == 403
    assert client.get("/api/v1/channels/beta", headers=it).status_code == 404

    publisher.sent.clear()
    unfollowed = client.put(path, json={"channel": None}, headers=it)
    assert unfollowed.json["channel"] is None
    assert {mf.software_channel for mf in manifests_sent(publisher, rt).values()} == {None}
    assert client.get("/api/v1/channels/stable", headers=it).json["running"] == []
