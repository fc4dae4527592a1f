"""IT's fleet view of portal nodes (issue 16): the Wi-Fi figures a portal node adds to
its health samples reach the device-health page, per node."""

from __future__ import annotations

from datetime import timedelta

import pytest

from central_cms import db as cms_db
from central_cms import models as m
from central_cms.analytics.model import DeviceInfo
from central_cms.analytics.sqlite_store import SqliteStore
from central_cms.analytics.stores import Stores
from central_cms.app import create_app
from central_cms.publisher import RecordingPublisher
from central_cms.runtime import runtime
from devices.clock import ManualClock
from devices.protocol import DeviceKind, DeviceState, Health, PortalHealth, Status, parse
from testkit.staff import login, make_user
from tests.analytics.roadside import INFO, NOW, health, status

PORTAL = DeviceInfo("cannington-portal", "cannington", "portal", "Australia/Perth")


@pytest.fixture
def cms(config, tmp_path):
    store = SqliteStore(tmp_path / "analytics.sqlite3")
    app = create_app(
        config.with_changes(public_url="http://127.0.0.1:1"),
        publisher=RecordingPublisher(),
        clock=ManualClock(NOW),
        analytics=Stores(events=store, fleet=store, sqlite=store, feedback=store),
    )
    app.config["TESTING"] = True
    session = cms_db.database(app).sessions()
    make_user(session, runtime(app), "it-user", m.Role.IT)
    make_user(session, runtime(app), "viewer-user", m.Role.VIEWER)
    session.commit()
    session.close()
    store.register_devices([PORTAL, INFO])
    yield app, store
    store.close()
    cms_db.database(app).engine.dispose()


def test_it_sees_each_portal_nodes_visitors_authorisations_failures_and_quota_hits(cms):
    app, store = cms
    figures = PortalHealth(
        visitors_online=37, window_s=120, authorisations=18, failures=2, quota_hits=1
    )
    sample = health(device_id=PORTAL.device_id, at=NOW - timedelta(minutes=1), portal=figures)
    # As the ingest reads it off the broker: the portal figures survive the wire.
    received = parse(Health, sample.encode())
    assert received.portal == figures
    store.record_health([received, health()], NOW)
    store.record_status(
        Status(
            device_id=PORTAL.device_id,
            kind=DeviceKind.PORTAL,
            state=DeviceState.ONLINE,
            software_version="1.4.0",
            at=NOW,
        ),
        NOW,
    )
    store.record_status(status(), NOW)
    client = app.test_client()
    login(client, "it-user")
    page = client.get("/analytics/fleet").text
    table = page[page.index("Wi-Fi portal nodes") :]
    row = table[table.index(PORTAL.device_id) :].split("</tr>")[0]
    cells = [c.split("</td>")[0].strip() for c in row.split('<td class="num">')[1:]]
    # 18 authorisations in 2 minutes: 9 a minute.
    assert cells[:2] == ["37", "9.0"] and "2" in cells[2] and cells[3] == "1"
    assert "sig-road-01" not in table  # a signage player has no Wi-Fi figures

    viewer = app.test_client()
    login(viewer, "viewer-user")
    assert viewer.get("/analytics/fleet").status_code == 403


def test_a_signage_players_health_sample_has_no_portal_figures_on_the_wire():
    assert b"portal" not in health().encode()
