"""Visitors' feedback in the CMS (issue 16): the ingest keeps it off a real Mosquitto,
scrubbed, without comments in the raw events; the page shows NPS and ratings per site;
a comment's delete is audited, per role and site, and survives a re-send; the CSV is
safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
import threading
import zlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from central_cms import db as cms_db
from central_cms import models as m
from central_cms.analytics.feedback import feedback_report, recommend_of
from central_cms.analytics.model import DeviceInfo, Filters
from central_cms.analytics.sqlite_store import SqliteStore
from central_cms.analytics.stores import Stores
from central_cms.app import create_app
from central_cms.ingest import Ingest, IngestSettings
from central_cms.publisher import RecordingPublisher
from central_cms.runtime import runtime
from devices.clock import ManualClock
from testkit.brokers import paho_client
from testkit.staff import csrf_of, login, make_user
from tests.analytics.events import batch, feedback
from tests.analytics.roadside import NOW
from tests.analytics.sim import mqtt_settings

PORTAL = DeviceInfo("cannington-portal", "cannington", "portal", "Australia/Perth", "Portal")
PAGE = "/analytics/feedback?start=2026-11-25&end=2026-12-02"


def test_nps_is_promoters_minus_detractors_in_percent():
    assert recommend_of([]).nps is None
    assert recommend_of([10, 9, 8, 7, 0]).nps == 20  # 2 promoters, 1 detractor of 5
    assert recommend_of([6, 6, 9]).nps == -33
    summary = recommend_of([9, 7, 6])
    assert (summary.promoters, summary.passives, summary.detractors) == (1, 1, 1)


@pytest.fixture
def cms(config, tmp_path, broker, unique):
    """The CMS (SQLite and PostgreSQL) with a staff user per role and a Riverton-only
    editor, and an ingest on the real broker writing to the same analytics file."""
    clock = ManualClock(NOW)
    store = SqliteStore(tmp_path / "analytics.sqlite3")
    app = create_app(
        config.with_changes(public_url="http://127.0.0.1:1"),
        publisher=RecordingPublisher(),
        clock=clock,
        analytics=Stores(events=store, fleet=store, sqlite=store, feedback=store),
    )
    app.config["TESTING"] = True
    session = cms_db.database(app).sessions()
    for role in m.Role:
        make_user(session, runtime(app), f"{role.value}-user", role)
    make_user(session, runtime(app), "riverton-editor", m.Role.EDITOR, ["riverton"])
    session.commit()
    session.close()
    store.register_devices([PORTAL])
    ingest = Ingest(
        store,
        store,
        IngestSettings(
            mqtt=mqtt_settings(broker.port), client_id=f"ingest-{unique}", shared_group=None
        ),
        clock=clock,
        feedback=store,
    )
    ingest.start()
    assert ingest.link.connected.wait(10)
    device = paho_client(f"portal-{unique}", broker.port)
    acked = threading.Event()
    device.on_message = lambda *_: acked.set()
    device.subscribe(f"ds/v1/devices/{PORTAL.device_id}/events/ack", qos=1)

    def send(events) -> None:
        """Publish a batch as the node's outbox does: again until the CMS acknowledges it
        (the first may reach the broker before the ingest's subscription)."""
        body = batch(PORTAL.device_id, events).encode()
        acked.clear()
        for _ in range(15):
            device.publish(f"ds/v1/devices/{PORTAL.device_id}/events", body, qos=1)
            if acked.wait(1):
                return
        raise AssertionError("the ingest never acknowledged the batch")

    yield app, store, send
    device.loop_stop()
    device.disconnect()
    ingest.stop()
    store.close()
    cms_db.database(app).engine.dispose()


def answers(at):
    return [
        feedback(1, at, rating=4),
        feedback(2, at, recommend=9, comment="Fast! I'm Lan, call 0412 345 678 or lan@x.com.au"),
        feedback(3, at + timedelta(minutes=5), rating=2, visitor="ef" * 16),
        feedback(4, at + timedelta(minutes=5), recommend=3, comment='=HYPERLINK("x")'),
    ]


def test_ingest_keeps_scrubbed_feedback_and_the_raw_events_keep_no_comment(cms):
    _, store, send = cms
    # A node running older code sends an unscrubbed comment: the ingest scrubs it too.
    send(answers(NOW - timedelta(hours=1)))
    rows = store.feedback(Filters(NOW.date() - timedelta(days=7), NOW.date()))
    assert [(r.rating, r.recommend) for r in rows] == [(4, None), (None, 9), (2, None), (None, 3)]
    assert rows[1].comment == "Fast! I'm [name], call [phone] or [email]"
    assert {r.site_id for r in rows} == {"cannington"}
    raw = b"".join(
        zlib.decompress(body) for (body,) in store.db.conn().execute("SELECT body FROM raw_batches")
    )
    assert b"Fast!" not in raw and b"0412" not in raw and b'"rating":4' in raw

    report = feedback_report(rows)
    [site] = report.sites
    assert (site.recommend.nps, site.ratings, site.average_rating) == (0, 2, 3.0)


def test_staff_read_nps_and_an_editor_deletes_a_comment_for_good(cms):
    app, store, send = cms
    events = answers(NOW - timedelta(hours=1))
    send(events)
    viewer = app.test_client()
    login(viewer, "viewer-user")
    page = viewer.get(PAGE).text
    assert "Fast! I&#39;m [name]" in page and "0412" not in page
    assert 'class="danger"' not in page  # a viewer sees no delete buttons
    [first, second] = [r for r in store.feedback(Filters(NOW.date(), NOW.date())) if r.comment]
    refused = viewer.post(f"/analytics/feedback/{first.event_id}/delete", data={})
    assert refused.status_code in (400, 403)

    outsider = app.test_client()
    token = login(outsider, "riverton-editor")
    forbidden = outsider.post(
        f"/analytics/feedback/{first.event_id}/delete", data={"csrf_token": token}
    )
    assert forbidden.status_code == 403

    editor = app.test_client()
    login(editor, "editor-user")
    token = csrf_of(editor.get(PAGE).text)
    done = editor.post(
        f"/analytics/feedback/{first.event_id}/delete",
        data={"csrf_token": token, "start": "2026-11-25", "end": "2026-12-02"},
    )
    assert done.status_code == 302
    after = editor.get(done.headers["Location"]).text
    assert "Comment deleted." in after and "Deleted by editor-user" in after
    assert "Fast!" not in after
    with cms_db.database(app).sessions() as session:
        [entry] = session.scalars(
            select(m.AuditEntry).where(m.AuditEntry.action == "feedback.delete_comment")
        )
        assert (entry.username, entry.entity_id) == ("editor-user", first.event_id)
        assert "Fast" not in str(entry.detail)

    # The node re-sends the same events (its ack was lost): the comment stays deleted.
    send(events)
    rows = {r.event_id: r for r in store.feedback(Filters(NOW.date(), NOW.date()))}
    assert rows[first.event_id].comment == "" and rows[second.event_id].comment

    exported = editor.get("/analytics/feedback.csv?start=2026-11-25&end=2026-12-02")
    table = list(csv.reader(io.StringIO(exported.text)))
    assert table[0] == ["day", "site_id", "site", "language", "rating", "recommend", "comment"]
    assert len(table) == 5
    assert '\'=HYPERLINK("x")' in [row[6] for row in table]  # not a formula
