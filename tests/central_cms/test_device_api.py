"""The asset endpoint devices download from: bearer token, ETag, Range."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from central_cms import fleet
from central_cms import models as m
from devices.config import parse_device_config
from devices.protocol import DeviceKind
from tests.central_cms.conftest import ADMIN


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


@pytest.fixture
def poster_sha(session, world):
    return session.scalars(select(m.MediaAsset.sha256)).first()


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
