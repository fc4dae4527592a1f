"""The REST API: its OpenAPI document, and a campaign from draft to devices."""

from __future__ import annotations

import io

from sqlalchemy import select

from central_cms import fleet
from central_cms import models as m
from devices.protocol import Manifest, parse_signed
from testkit.images import png
from testkit.staff import make_user
from testkit.videos import h264_mp4


def token_for(session, rt, username: str, role: m.Role) -> dict[str, str]:
    make_user(session, rt, username, role)
    user = session.scalars(select(m.User).where(m.User.username == username)).one()
    return {"Authorization": f"Bearer {fleet.create_api_token(session, rt, user, 'test')}"}


def test_the_openapi_document_lists_the_endpoints_and_bearer_auth(client):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    for path in (
        "/api/v1/campaigns",
        "/api/v1/campaigns/{campaign_id}/approve",
        "/api/v1/media",
        "/api/v1/devices",
        "/api/v1/alerts",
        "/api/v1/feeds/{feed_id}/fetch",
        "/api/v1/campaigns/{campaign_id}/short-links",
        "/api/v1/releases",
        "/api/v1/channels/{channel}",
        "/api/v1/groups/{group_id}/channel",
    ):
        assert path in spec["paths"], path
    assert not any(p.startswith(("/campaigns", "/device-api")) for p in spec["paths"])
    assert spec["components"]["securitySchemes"]["BearerAuth"]["scheme"] == "bearer"


def test_a_campaign_through_the_api_reaches_its_devices(client, session, rt, world, publisher):
    editor = token_for(session, rt, "api-editor", m.Role.EDITOR)
    approver = token_for(session, rt, "api-approver", m.Role.APPROVER)
    upload = client.post(
        "/api/v1/media",
        headers=editor,
        content_type="multipart/form-data",
        data={"file": (io.BytesIO(png(640, 360)), "p.png"), "title": "API poster"},
    )
    assert upload.status_code == 201, upload.json
    body = {
        "name": "Library week",
        "owner_site_id": "north-pool",
        "priority": 70,
        "schedules": [
            {
                "starts_on": "2026-12-01",
                "ends_on": "2026-12-07",
                "days": ["mon", "tue"],
                "windows": [{"start": "22:00", "end": "02:00"}],
            }
        ],
        "targets": {"sites": ["north-pool", "south-library"], "kinds": ["signage"]},
        "items": [{"kind": "image", "media_id": upload.json["id"], "duration_s": 10}],
    }
    created = client.post("/api/v1/campaigns", json=body, headers=editor)
    assert created.status_code == 201, created.json
    campaign_id = created.json["id"]
    assert (
        client.post(f"/api/v1/campaigns/{campaign_id}/submit", headers=editor).json["status"]
        == "pending"
    )
    publisher.sent.clear()
    approved = client.post(f"/api/v1/campaigns/{campaign_id}/approve", headers=approver)
    assert approved.json["status"] == "published"
    manifests = [
        parse_signed(Manifest, p, [rt.signing_key.public_key]) for _, p, _ in publisher.sent
    ]
    assert {mf.device_id for mf in manifests} == {"sig-north-pool", "sig-south-library"}
    window = manifests[0].items[0].schedules[0].windows[0]
    assert (window.start.hour, window.end.hour) == (22, 2)  # across midnight, as sent


def test_rule_violations_come_back_as_409_naming_the_rule(client, session, rt, world):
    editor = token_for(session, rt, "api-editor", m.Role.EDITOR)
    video = client.post(
        "/api/v1/media",
        headers=editor,
        content_type="multipart/form-data",
        data={"file": (io.BytesIO(h264_mp4()), "v.mp4")},
    )
    body = {
        "name": "Road video",
        "owner_site_id": "east-hall",
        "targets": {"tags": ["roadside"]},
        "items": [{"kind": "video", "media_id": video.json["id"], "duration_s": 3}],
    }
    refused = client.post("/api/v1/campaigns", json=body, headers=editor)
    # Well formed, but the targeted screens' rules refuse it: a conflict with the fleet as
    # it is now (the same body passes once the roadside screen is gone), not a bad request.
    assert refused.status_code == 409
    assert refused.json["field"] == "items"
    problems = " ".join(refused.json["problems"])
    assert "still images only" in problems and "minimum dwell 10 s" in problems
    assert session.scalars(select(m.Campaign)).all() == []


def test_a_bad_upload_leaves_nothing_behind(client, session, rt, world):
    editor = token_for(session, rt, "api-editor", m.Role.EDITOR)
    files_before = rt.blobs.count()
    rows_before = len(session.scalars(select(m.MediaAsset)).all())
    refused = client.post(
        "/api/v1/media",
        headers=editor,
        content_type="multipart/form-data",
        data={"file": (io.BytesIO(b"GIF89a broken"), "x.gif")},
    )
    assert refused.status_code == 422
    assert "damaged" in refused.json["message"] or "not a picture" in refused.json["message"]
    assert rt.blobs.count() == files_before
    session.expire_all()
    assert len(session.scalars(select(m.MediaAsset)).all()) == rows_before


def _campaign_body(media_id: int) -> dict[str, object]:
    return {
        "name": "Swim school",
        "owner_site_id": "north-pool",
        "targets": {"sites": ["north-pool"]},
        "items": [{"kind": "image", "media_id": media_id, "duration_s": 10}],
    }


def test_a_command_with_nested_args_is_refused_naming_the_argument(
    client, session, rt, world, publisher
):
    admin = token_for(session, rt, "api-admin", m.Role.ADMIN)
    publisher.sent.clear()
    refused = client.post(
        "/api/v1/devices/sig-north-pool/commands",
        json={"name": "identify", "args": {"seconds": {"nested": [30]}}},
        headers=admin,
    )
    assert refused.status_code == 422, refused.text
    assert refused.json["field"].startswith("args.seconds")
    assert "no lists or objects" in refused.json["message"]
    assert publisher.sent == []  # nothing half-sent to the device
    sent = client.post(
        "/api/v1/devices/sig-north-pool/commands",
        json={"name": "identify", "args": {"seconds": 30}},
        headers=admin,
    )
    assert sent.status_code == 202, sent.text


def test_extreme_numbers_in_a_campaign_are_refused_naming_the_field(client, session, rt, world):
    admin = token_for(session, rt, "api-admin", m.Role.ADMIN)
    created = client.post(
        "/api/v1/campaigns", json=_campaign_body(world.media["poster"]), headers=admin
    )
    assert created.status_code == 201, created.text
    url = f"/api/v1/campaigns/{created.json['id']}"
    for change, field in (
        ({"priority": 10**30}, "priority"),
        ({"items": [{"kind": "image", "media_id": 2**70, "duration_s": 10}]}, "items.0.media_id"),
        ({"items": [{"kind": "image", "media_id": 1, "duration_s": 1e308}]}, "items.0.duration_s"),
        (
            {"items": [{"kind": "image", "media_id": 1, "duration_s": 10, "weight": 2**40}]},
            "items.0.weight",
        ),
        ({"name": "Swim\x00school"}, "name"),
    ):
        refused = client.put(
            url, json={**_campaign_body(world.media["poster"]), **change}, headers=admin
        )
        assert refused.status_code == 422, (change, refused.status_code, refused.text[:300])
        assert refused.json["field"] == field, refused.json
        assert refused.json["message"].startswith(f"{field}: ")
    assert client.get(url, headers=admin).json["priority"] == 50  # unchanged


def test_an_unsupported_method_gets_a_json_405_naming_the_allowed_ones(client, session, rt):
    admin = token_for(session, rt, "api-admin", m.Role.ADMIN)
    for method in ("TRACE", "DELETE"):
        answer = client.open("/api/v1/sites", method=method, headers=admin)
        assert answer.status_code == 405, (method, answer.status_code)
        assert answer.content_type == "application/json"
        assert {"GET", "POST"} <= {a.strip() for a in answer.headers["Allow"].split(",")}


# Where the service functions raise errors.Conflict.
CONFLICTING = {
    "post /api/v1/devices",
    "put /api/v1/profiles/{profile_id}",
    "post /api/v1/media",
    "post /api/v1/campaigns",
    "put /api/v1/campaigns/{campaign_id}",
    "post /api/v1/campaigns/{campaign_id}/submit",
    "post /api/v1/campaigns/{campaign_id}/approve",
    "post /api/v1/campaigns/{campaign_id}/reject",
    "post /api/v1/alerts",
    "post /api/v1/groups",
    "put /api/v1/groups/{group_id}",
    "post /api/v1/playlists",
    "put /api/v1/playlists/{playlist_id}",
    "post /api/v1/releases",  # a version uploaded already
}


def test_every_operation_documents_its_error_answers_as_json(client):
    spec = client.get("/api/v1/openapi.json").json
    error_shape = {"$ref": "#/components/schemas/ErrorOut"}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            answers = set(operation["responses"])
            assert {"401", "403"} <= answers, (method, path)
            assert ("404" in answers) == ("{" in path), (method, path)
            # A body, or a query string the schema can refuse (GET /fleet's filters, the
            # report's month and dates).
            checked = "requestBody" in operation or any(
                p["in"] == "query" for p in operation.get("parameters", [])
            )
            assert ("422" in answers) == checked, (method, path)
            assert ("409" in answers) == (f"{method} {path}" in CONFLICTING), (method, path)
            for code, answer in operation["responses"].items():
                if code.startswith("4"):
                    assert answer["content"]["application/json"]["schema"] == error_shape
    assert {"message", "status"} <= set(spec["components"]["schemas"]["ErrorOut"]["required"])
