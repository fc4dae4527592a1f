"""What the staff UI does, the REST API does (issue 17): device groups, IT's device health
with command results and screenshots, and staff accounts, each walked as an API client
would, with the UI's permissions (an editor of a site is refused IT's and admins' work)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from central_cms import campaigns, fleet
from central_cms import models as m
from central_cms.compiler import Targets
from devices.protocol import (
    Health,
    ItemKind,
    Manifest,
    TextSlide,
    parse_signed,
)
from testkit.staff import ADMIN, APPROVER, make_user
from tests.central_cms.screens_fleet import fleet_store, frame_png, report_screenshot, report_status


def token_for(session, rt, username: str, role: m.Role, sites=()) -> dict[str, str]:
    make_user(session, rt, username, role, sites)
    user = session.scalars(select(m.User).where(m.User.username == username)).one()
    return {"Authorization": f"Bearer {fleet.create_api_token(session, rt, user, 'test')}"}


def manifests_sent(publisher, rt) -> dict[str, Manifest]:
    key = rt.signing_key.public_key
    found = {}
    for topic, payload, _ in publisher.sent:
        if topic.endswith("/manifest"):
            manifest = parse_signed(Manifest, payload, [key])
            found[manifest.device_id] = manifest
    return found


def test_a_device_group_is_created_targeted_changed_and_refused_to_an_editor(
    client, session, rt, world, publisher
):
    it = token_for(session, rt, "api-it", m.Role.IT)
    editor = token_for(session, rt, "api-editor", m.Role.EDITOR, ["north-pool"])
    body = {"name": "Foyer screens", "device_ids": ["sig-north-pool"]}
    refused = client.post("/api/v1/groups", json=body, headers=editor)
    assert refused.status_code == 403 and "device.write" in refused.json["message"]
    created = client.post("/api/v1/groups", json=body, headers=it)
    assert created.status_code == 201, created.json
    group = created.json
    assert group["name"] == "Foyer screens" and group["device_ids"] == ["sig-north-pool"]
    assert client.post("/api/v1/groups", json=body, headers=it).status_code == 409  # name taken
    # A campaign aimed at the group reaches its screens only.
    notice = campaigns.save(
        session,
        rt,
        ADMIN,
        campaigns.CampaignInput(
            name="Foyer notice",
            owner_site_id="south-library",
            targets=Targets(groups=frozenset({group["id"]})),
            items=(
                campaigns.ItemInput(kind=ItemKind.TEXT, duration_s=10, text=TextSlide(title="Hi")),
            ),
        ),
    )
    campaigns.submit(session, rt, ADMIN, notice.id)  # it reaches North Pool: approval needed
    assert campaigns.approve(session, rt, APPROVER, notice.id).status == "published"
    listed = client.get("/api/v1/groups", headers=editor)  # reading is anyone's
    assert [g["id"] for g in listed.json] == [group["id"]]
    publisher.sent.clear()
    moved = client.put(
        f"/api/v1/groups/{group['id']}",
        json={"name": "Library foyer", "device_ids": ["sig-south-library"]},
        headers=it,
    )
    assert moved.status_code == 200, moved.json
    assert client.get(f"/api/v1/groups/{group['id']}", headers=it).json["name"] == "Library foyer"
    sent = manifests_sent(publisher, rt)
    # The screen that left loses the notice, the one that joined gains it.
    titles = {d: [i.text.title for i in mf.items if i.text] for d, mf in sent.items()}
    assert "Hi" in titles["sig-south-library"]
    assert "Hi" not in titles["sig-north-pool"]
    assert client.get("/api/v1/groups/no-such-group", headers=it).status_code == 404
    unknown = client.put(
        f"/api/v1/groups/{group['id']}", json={"name": "X", "device_ids": ["gone"]}, headers=it
    )
    assert unknown.status_code == 409 and unknown.json["field"] == "devices"


def hot(device_id: str, at) -> Health:
    return Health(
        device_id=device_id,
        at=at,
        uptime_s=60,
        cpu_percent=50,
        load_1m=1,
        memory_used_percent=30,
        memory_available_bytes=1,
        disk_used_percent=40,
        disk_free_bytes=1,
        net_bytes_sent=0,
        net_bytes_recv=0,
        temperature_c=88,
    )


def test_it_reads_fleet_health_command_results_and_screenshots(
    app, client, session, rt, world, clock
):
    it = token_for(session, rt, "api-it", m.Role.IT)
    editor = token_for(session, rt, "api-editor", m.Role.EDITOR, ["north-pool"])
    store = fleet_store(app)
    for device in ("sig-north-pool", "sig-south-library"):
        report_status(store, device, clock)
    store.record_health([hot("sig-north-pool", clock.now())], clock.now())
    picture = frame_png("Swim school")
    report_screenshot(store, "sig-north-pool", picture, timedelta(seconds=5), clock)

    assert client.get("/api/v1/fleet", headers=editor).status_code == 403
    everything = client.get("/api/v1/fleet?sort=device", headers=it).json
    assert everything["devices"] == len(world.devices) and everything["pages"] == 1
    assert [r["device_id"] for r in everything["rows"]] == sorted(world.devices)
    assert everything["online"] == 2
    troubled = client.get("/api/v1/fleet?state=problems&site=north-pool", headers=it).json
    pool = next(r for r in troubled["rows"] if r["device_id"] == "sig-north-pool")
    assert pool["worst"] == "critical" and pool["temperature_c"] == 88
    assert {"rule": "temperature", "level": "critical", "message": "88.0 C"} in pool["findings"]
    assert all(r["site_id"] == "north-pool" for r in troubled["rows"])
    assert client.get("/api/v1/fleet?page=0", headers=it).status_code == 422

    detail = client.get("/api/v1/fleet/sig-north-pool", headers=it).json
    assert detail["device"]["online"] is True
    assert [r["screenshot"] for r in detail["command_results"]] == [True]
    shot = client.get("/api/v1/fleet/sig-north-pool/screenshot", headers=it)
    assert shot.status_code == 200 and shot.mimetype == "image/png"
    assert shot.data == picture
    none = client.get("/api/v1/fleet/sig-south-library/screenshot", headers=it)
    assert none.status_code == 404 and none.json["status"] == 404
    assert client.get("/api/v1/fleet/nobody", headers=it).status_code == 404
    assert client.get("/api/v1/fleet/sig-north-pool/screenshot", headers=editor).status_code == 403


def test_an_admin_manages_staff_accounts_and_an_editor_cannot(client, session, rt, world):
    admin = token_for(session, rt, "api-admin", m.Role.ADMIN)
    editor = token_for(session, rt, "api-editor", m.Role.EDITOR, ["north-pool"])
    new = {
        "username": "jo.bloggs",
        "password": "long enough pw",
        "role": "editor",
        "sites": ["south-library"],
    }
    assert client.post("/api/v1/users", json=new, headers=editor).status_code == 403
    created = client.post("/api/v1/users", json=new, headers=admin)
    assert created.status_code == 201, created.json
    assert created.json == {
        "username": "jo.bloggs",
        "display_name": "jo.bloggs",
        "role": "editor",
        "sites": ["south-library"],
        "active": True,
    }
    assert "password" not in created.json
    short = client.post("/api/v1/users", json={**new, "password": "short"}, headers=admin)
    assert short.status_code == 422 and short.json["field"] == "password"
    names = [u["username"] for u in client.get("/api/v1/users", headers=admin).json]
    assert "jo.bloggs" in names
    assert client.get("/api/v1/users", headers=editor).status_code == 403

    # Jo signs in to the staff UI; a new role ends that session.
    page = client.get("/login")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    signed_in = client.post(
        "/login",
        data={"username": "jo.bloggs", "password": "long enough pw", "csrf_token": token},
    )
    assert signed_in.status_code == 302
    assert client.get("/campaigns/").status_code == 200
    changed = client.put(
        "/api/v1/users/jo.bloggs/role", json={"role": "viewer", "sites": []}, headers=admin
    )
    assert changed.status_code == 200 and changed.json["role"] == "viewer"
    assert client.get("/campaigns/").status_code == 302  # back to sign-in
    assert (
        client.put(
            "/api/v1/users/jo.bloggs/password", json={"password": "another long one"},
            headers=admin,
        ).status_code
        == 200
    )  # fmt: skip
    ended = client.post("/api/v1/users/jo.bloggs/sign-out", headers=admin)
    assert ended.status_code == 200 and ended.json == {"sessions_ended": 0}
    assert client.post("/api/v1/users/nobody/sign-out", headers=admin).status_code == 404
    audit = session.scalars(
        select(m.AuditEntry.action).where(m.AuditEntry.entity_id == "jo.bloggs")
    ).all()
    assert set(audit) >= {"user.create", "user.role", "user.password", "user.sign_out"}


def test_site_editors_keep_playlists_of_their_own_sites(client, session, rt, world):
    pool = token_for(session, rt, "pool-editor", m.Role.EDITOR, ["north-pool"])
    library = token_for(session, rt, "library-editor", m.Role.EDITOR, ["south-library"])
    body = {
        "name": "Pool deck loop",
        "owner_site_id": "north-pool",
        "items": [
            {"kind": "image", "media_id": world.media["poster"], "duration_s": 8},
            {
                "kind": "text",
                "duration_s": 6,
                "text": {"title": "Lanes open 6 am"},
                "valid_from": "2026-12-01",
                "valid_until": "2026-12-24",
            },
        ],
    }
    refused = client.post("/api/v1/playlists", json=body, headers=library)
    assert refused.status_code == 403 and "north-pool" in refused.json["message"]
    created = client.post("/api/v1/playlists", json=body, headers=pool)
    assert created.status_code == 201, created.json
    playlist = created.json
    assert [i["kind"] for i in playlist["items"]] == ["image", "text"]
    assert playlist["items"][1]["text"]["title"] == "Lanes open 6 am"
    assert playlist["items"][1]["valid_until"] == "2026-12-24"
    assert playlist["updated_by"] == "pool-editor"
    # The other site's editor neither sees nor changes it.
    assert client.get("/api/v1/playlists", headers=library).json == []
    assert client.get(f"/api/v1/playlists/{playlist['id']}", headers=library).status_code == 404
    stolen = client.put(f"/api/v1/playlists/{playlist['id']}", json=body, headers=library)
    assert stolen.status_code == 404
    changed = client.put(
        f"/api/v1/playlists/{playlist['id']}",
        json={**body, "name": "Pool deck", "items": body["items"][1:]},
        headers=pool,
    )
    assert changed.status_code == 200, changed.json
    again = client.get(f"/api/v1/playlists/{playlist['id']}", headers=pool).json
    assert again["name"] == "Pool deck" and len(again["items"]) == 1
    backwards = client.post(
        "/api/v1/playlists",
        json={**body, "items": [{**body["items"][1], "valid_until": "2026-11-30"}]},
        headers=pool,
    )
    assert backwards.status_code == 422
    assert "last day is before the first day" in backwards.json["message"]


def test_a_campaign_sets_its_layout_zone_playlists_and_skips_screens_through_the_api(
    client, session, rt, world, publisher
):
    editor = token_for(session, rt, "library-editor", m.Role.EDITOR, ["south-library"])
    side = client.post(
        "/api/v1/playlists",
        json={
            "name": "Library side panel",
            "owner_site_id": "south-library",
            "items": [
                {
                    "kind": "text",
                    "duration_s": 5,
                    "text": {"title": "Stories", "shrink_to_fit": True},
                }
            ],
        },
        headers=editor,
    ).json
    # The site's default content: it sets its screens' layout (central_cms/zones.py).
    body = {
        "name": "Library default",
        "owner_site_id": "south-library",
        "is_default": True,
        "targets": {"sites": ["south-library"]},
        "items": [
            {"kind": "text", "duration_s": 10, "text": {"title": "Library week"}, "zone": "main"}
        ],
        "layouts": {"indoor": "main-side"},
        "zone_playlists": {"side": side["id"]},
        "skip_unable": True,
    }
    created = client.post("/api/v1/campaigns", json=body, headers=editor)
    assert created.status_code == 201, created.json
    campaign = created.json
    assert campaign["layouts"] == {"indoor": "main-side"}
    assert campaign["zone_playlists"] == {"side": side["id"]}
    assert campaign["skip_unable"] is True
    # Left out of an update, they stay as they are.
    kept = {k: v for k, v in body.items() if k not in ("layouts", "zone_playlists", "skip_unable")}
    updated = client.put(f"/api/v1/campaigns/{campaign['id']}", json=kept, headers=editor).json
    assert updated["zone_playlists"] == {"side": side["id"]} and updated["skip_unable"] is True
    publisher.sent.clear()
    submitted = client.post(f"/api/v1/campaigns/{campaign['id']}/submit", headers=editor)
    assert submitted.json["status"] == "published"
    manifest = manifests_sent(publisher, rt)["sig-south-library"]
    assert manifest.zone_names == ("main", "side")
    by_zone = {(i.zone, i.text.title) for i in manifest.default_items if i.text}
    assert {("main", "Library week"), ("side", "Stories")} <= by_zone
    # A zone the chosen layouts do not have is refused, naming it.
    wrong = client.post(
        "/api/v1/campaigns",
        json={**body, "layouts": {"indoor": "full"}},
        headers=editor,
    )
    assert wrong.status_code in (409, 422) and "Side panel" in wrong.json["message"]
