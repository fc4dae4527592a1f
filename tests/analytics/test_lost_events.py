"""A device whose outbox overflowed during an outage (issue 13.4): it tells the ingest
which seqs it dropped, the ingest's watermark passes them and counts them as lost, the
stream recovers, and IT reads the loss on the fleet-health page. Real Mosquitto, the
real ingest and outbox, the CMS app on SQLite files."""

from __future__ import annotations

import re

import pytest

from central_cms import db as cms_db
from central_cms import fleet as cms_fleet
from central_cms import models as m
from central_cms.analytics.model import DeviceInfo
from central_cms.analytics.sqlite_store import SqliteStore
from central_cms.analytics.stores import Stores
from central_cms.app import create_app
from central_cms.config import CmsConfig
from central_cms.ingest import Ingest, IngestSettings
from central_cms.publisher import RecordingPublisher
from central_cms.runtime import runtime
from devices.clock import ManualClock
from tests.analytics.sim import T0, SimDevice, mqtt_settings

PASSWORD = "a long enough test password"


@pytest.fixture
def ingest(broker, store, unique):
    running = Ingest(
        store,
        store,
        IngestSettings(
            mqtt=mqtt_settings(broker.port), client_id=f"ingest-{unique}", shared_group=f"g{unique}"
        ),
    )
    running.start()
    assert running.link.connected.wait(10)
    yield running
    running.stop()


def fleet_page_as_it(config: CmsConfig, store) -> str:
    """The fleet-health page as IT reads it, from the CMS over the same analytics store."""
    config = config.with_changes(public_url="http://127.0.0.1:1")
    app = create_app(
        config,
        publisher=RecordingPublisher(),
        clock=ManualClock(T0),
        analytics=Stores(events=store, fleet=store, sqlite=store),
    )
    try:
        with cms_db.database(app).sessions() as session:
            cms_fleet.create_user(
                session, runtime(app), None, username="it-ops", password=PASSWORD, role=m.Role.IT
            )
            session.commit()
        client = app.test_client()
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        assert token is not None
        signed_in = client.post(
            "/login",
            data={"username": "it-ops", "password": PASSWORD, "csrf_token": token.group(1)},
        )
        assert signed_in.status_code == 302, signed_in.text
        page = client.get("/analytics/fleet")
        assert page.status_code == 200
        return page.text
    finally:
        cms_db.database(app).engine.dispose()


def test_a_full_outbox_reports_what_it_dropped_and_its_stream_recovers(
    broker, ingest, store: SqliteStore, config, tmp_path, unique
):
    device_id = f"sig-{unique}"
    store.register_devices([DeviceInfo(device_id, "riverton-lib", "signage", "Australia/Perth")])
    # About 200 proof-of-play events fit in this budget.
    device = SimDevice(device_id, broker.port, tmp_path, budget_bytes=50_000).start()
    try:
        device.record(30)
        assert device.drained.wait(30)

        broker.stop()  # a long outage: the outbox fills and drops its oldest events
        device.record(1000)
        dropped = device.outbox.dropped_total
        held = device.outbox.pending
        assert dropped > 0 and held + dropped == 1000
        broker.start()

        # Every event still held arrives, and the device sees the ack pass the hole.
        assert device.drained.wait(30), (store.watermark(device_id, device.outbox.epoch), held)
        keys = [k for k in store.event_keys() if k[0] == device_id]
        assert [k[2] for k in keys] == [*range(1, 31), *range(31 + dropped, 1031)]
        assert len({k[3] for k in keys}) == len(keys) == 30 + held  # each exactly once
        (snapshot,) = [s for s in store.fleet() if s.device_id == device_id]
        assert snapshot.events_lost == dropped == snapshot.outbox_dropped_total
        assert device.outbox.dropped_ranges() == []  # acknowledged: no longer reported

        # The stream carries on: new events are stored and acknowledged as before.
        device.record(5)
        assert device.drained.wait(30)
        assert store.watermark(device_id, device.outbox.epoch) == 1035
        assert store.count_events() == 35 + held
        (snapshot,) = [s for s in store.fleet() if s.device_id == device_id]
        assert snapshot.events_lost == dropped  # re-sent ranges are not counted twice
    finally:
        device.stop()

    page = fleet_page_as_it(config, store)
    row = page[page.index(f">{device_id}</a>") :]
    row = row[: row.index("</tr>")]
    assert f"{dropped} lost" in row
