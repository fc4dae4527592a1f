"""The asset endpoint devices download from: bearer token, ETag, Range; and only what the
device's own manifests name (issue 13, point 14)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from central_cms import campaigns, fleet, library
from central_cms import models as m
from central_cms.compiler import Targets
from devices.config import parse_device_config
from devices.protocol import DeviceKind, ItemKind, Manifest, parse_signed
from testkit.images import png
from testkit.staff import ADMIN, APPROVER


@pytest.fixture
def device_token(session, rt, world):
    import tomllib

    registration = fleet.register_device(
        session,
        rt,
        ADMIN,
        device_id="sig-token-test",
        name="",
        kind=DeviceKind.SIGNAGE,
        site_id="north-pool",
        profile_id="indoor",
        tags=[],
    )
    raw = tomllib.loads(registration.config_toml)
    config = parse_device_config(raw)
    assert config.device_id == "sig-token-test"
    assert config.public_keys == (rt.signing_key.public_key,)
    stored = session.get(m.Device, "sig-token-test")
    assert config.asset_token not in (stored.asset_token_hash, stored.mqtt_password_hash)
    return config.asset_token


def publish_poster(session, rt, media_id: int, site_id: str = "north-pool") -> str:
    """A published campaign showing one picture at `site_id`; returns its id."""
    made = campaigns.save(
        session,
        rt,
        ADMIN,
        campaigns.CampaignInput(
            name=f"Poster {media_id}",
            owner_site_id=site_id,
            items=(campaigns.ItemInput(kind=ItemKind.IMAGE, media_id=media_id, duration_s=12),),
            targets=Targets(sites=frozenset({site_id})),
        ),
    )
    if campaigns.submit(session, rt, ADMIN, made.id).status == m.CampaignStatus.PENDING:
        campaigns.approve(session, rt, APPROVER, made.id)
    return made.id


def manifest_assets(session, rt, device_id: str) -> set[str]:
    session.expire_all()
    payload = session.get(m.ManifestState, device_id).payload
    manifest = parse_signed(Manifest, payload, [rt.signing_key.public_key])
    return {a.sha256 for a in manifest.assets}


@pytest.fixture
def poster_sha(session, rt, world, device_token):
    """The poster as sized for the token's device: what its manifest names."""
    publish_poster(session, rt, world.media["poster"])
    (sha,) = manifest_assets(session, rt, "sig-token-test")
    return sha


def test_an_asset_needs_a_device_token(client, poster_sha):
    assert client.get(f"/device-api/v1/assets/{poster_sha}").status_code == 401
    bad = client.get(
        f"/device-api/v1/assets/{poster_sha}", headers={"Authorization": "Bearer nope"}
    )
    assert bad.status_code == 401


def test_a_device_downloads_with_etag_and_revalidates(client, rt, device_token, poster_sha):
    headers = {"Authorization": f"Bearer {device_token}"}
    response = client.get(f"/device-api/v1/assets/{poster_sha}", headers=headers)
    assert response.status_code == 200
    assert response.data == rt.blobs.read(poster_sha)
    assert response.headers["ETag"] == f'"{poster_sha}"'
    again = client.get(
        f"/device-api/v1/assets/{poster_sha}",
        headers={**headers, "If-None-Match": f'"{poster_sha}"'},
    )
    assert again.status_code == 304


def test_range_requests_resume_and_past_the_end_is_416(client, rt, device_token, poster_sha):
    headers = {"Authorization": f"Bearer {device_token}"}
    data = rt.blobs.read(poster_sha)
    part = client.get(
        f"/device-api/v1/assets/{poster_sha}", headers={**headers, "Range": "bytes=10-19"}
    )
    assert part.status_code == 206
    assert part.data == data[10:20]
    beyond = client.get(
        f"/device-api/v1/assets/{poster_sha}",
        headers={**headers, "Range": f"bytes={len(data) + 5}-"},
    )
    assert beyond.status_code == 416


def test_an_unknown_asset_is_404(client, device_token):
    response = client.get(
        "/device-api/v1/assets/" + "0" * 64, headers={"Authorization": f"Bearer {device_token}"}
    )
    assert response.status_code == 404


def fetch(client, token: str, sha256: str) -> int:
    response = client.get(
        f"/device-api/v1/assets/{sha256}", headers={"Authorization": f"Bearer {token}"}
    )
    status: int = response.status_code
    return status


def test_a_device_fetches_only_what_its_manifests_name(
    client, session, rt, world, device_token, poster_sha
):
    secret = library.upload(
        session, rt, ADMIN, filename="draft.png", data=png(640, 360), title="Not yet public"
    )
    original = session.get(m.MediaAsset, world.media["poster"]).sha256
    publish_poster(session, rt, world.media["poster"], site_id="east-hall")
    (led,) = manifest_assets(session, rt, "led-east-hall") - manifest_assets(
        session, rt, "sig-east-hall"
    )
    assert fetch(client, device_token, poster_sha) == 200
    assert fetch(client, device_token, secret.sha256) == 404  # in the library only
    assert fetch(client, device_token, original) == 404  # the device gets its rendition
    assert fetch(client, device_token, led) == 404  # another device's screen
    assert rt.blobs.read(secret.sha256)  # the blobs exist: the token may not see them


def test_the_current_manifest_assets_stay_fetchable_while_the_next_arrives(
    client, session, rt, world, device_token, poster_sha
):
    second = library.upload(session, rt, ADMIN, filename="b.png", data=png(700, 400), title="B")
    first_campaign = session.scalars(
        select(m.Campaign.id).where(m.Campaign.status == m.CampaignStatus.PUBLISHED)
    ).one()
    second_campaign = publish_poster(session, rt, second.id)
    (second_sha,) = manifest_assets(session, rt, "sig-token-test") - {poster_sha}
    campaigns.archive(session, rt, ADMIN, first_campaign)
    # Pending: only the second poster; the device may still run the one before.
    assert manifest_assets(session, rt, "sig-token-test") == {second_sha}
    assert fetch(client, device_token, poster_sha) == 200
    assert fetch(client, device_token, second_sha) == 200
    campaigns.archive(session, rt, ADMIN, second_campaign)
    assert fetch(client, device_token, poster_sha) == 404
    assert fetch(client, device_token, second_sha) == 200
