"""Asking devices for new screenshots (issue 8): at most once per device per interval
across CMS processes, one claim among concurrent viewers; serving the stored picture;
the settings and the migration. SQLite and PostgreSQL both."""

from __future__ import annotations

import base64
import io
import threading
from datetime import timedelta

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from PIL import Image

from central_cms import db as cms_db
from central_cms import models as m
from central_cms.app import create_app
from central_cms.config import CmsConfig
from central_cms.publisher import RecordingPublisher
from central_cms.runtime import runtime
from central_cms.screens import claim_request
from devices.clock import ManualClock
from devices.protocol import CommandResult
from testkit.messages import T0
from testkit.staff import login, make_user
from tests.central_cms.screens_fleet import (
    ROADSIDE,
    fleet_store,
    frame_png,
    report_screenshot,
    screenshot_commands,
    tiles,
)

# --- asking for new screenshots -------------------------------------------------------------


def test_an_old_screenshot_asks_each_device_once_per_interval_across_processes(
    app, config: CmsConfig, clock: ManualClock, session, fleet_live, publisher
):
    """Two CMS processes (two apps on one database) and two viewers each: a device is
    asked once per 30 s, only if it is online and its screenshot is at least 30 s old."""
    rt = runtime(app)
    make_user(session, rt, "viewer", m.Role.VIEWER)
    make_user(session, rt, "viewer2", m.Role.VIEWER)
    other_publisher = RecordingPublisher()
    other = create_app(config, publisher=other_publisher, clock=clock, migrate=False)
    try:
        first, second = app.test_client(), other.test_client()
        login(first, "viewer")
        login(second, "viewer2")
        publisher.sent.clear()
        for client in (first, second, first, second):
            assert client.get("/screens/").status_code == 200
        asked = screenshot_commands(rt, publisher, other_publisher)
        # led: 2 min old; east-hall: none yet. north-pool (12 s) is fresh, library offline.
        assert sorted(c.device_id for c in asked) == ["led-east-hall", "sig-east-hall"]
        assert all(c.expires_at - c.issued_at == timedelta(seconds=30) for c in asked)
        page = first.get("/screens/").text
        assert "New screenshot asked for just now." in tiles(page)["sig-east-hall"]

        clock.advance(seconds=29)  # north-pool's screenshot is now 41 s old
        second.get("/screens/")
        first.get("/screens/")
        asked = screenshot_commands(rt, publisher, other_publisher)[2:]
        assert [c.device_id for c in asked] == ["sig-north-pool"]

        clock.advance(seconds=1)  # 30 s since the first two were asked: again, once each
        for client in (second, first):
            client.get("/screens/")
        asked = screenshot_commands(rt, publisher, other_publisher)[3:]
        assert sorted(c.device_id for c in asked) == ["led-east-hall", "sig-east-hall"]
    finally:
        cms_db.database(other).engine.dispose()


def test_a_fresh_screenshot_stops_the_requests(app, client, clock, session, fleet_live, publisher):
    rt = runtime(app)
    make_user(session, rt, "viewer", m.Role.VIEWER)
    login(client, "viewer")
    publisher.sent.clear()
    client.get("/screens/?site=east-hall")
    assert len(screenshot_commands(rt, publisher)) == 2
    clock.advance(seconds=31)
    store = fleet_store(app)
    for device_id in ("sig-east-hall", ROADSIDE):  # both answered a second ago
        report_screenshot(store, device_id, frame_png("New"), timedelta(seconds=1), clock)
    client.get("/screens/?site=east-hall")
    assert len(screenshot_commands(rt, publisher)) == 2


def test_one_claim_wins_among_concurrent_viewers(app, session, world):
    """Eight threads, each with its own connection, claim the same device at the same
    instant: exactly one may send the command."""
    engine = cms_db.database(app).engine
    start = threading.Barrier(8, timeout=10)
    wins: list[bool] = []
    lock = threading.Lock()

    def claim() -> None:
        with cms_db.database(app).sessions() as own:
            start.wait()
            won = claim_request(own, "sig-north-pool", T0, timedelta(seconds=30))
        with lock:
            wins.append(won)

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(wins) == [False] * 7 + [True]
    with cms_db.database(app).sessions() as own:
        assert not claim_request(
            own, "sig-north-pool", T0 + timedelta(seconds=29), timedelta(seconds=30)
        )
        assert claim_request(
            own, "sig-north-pool", T0 + timedelta(seconds=30), timedelta(seconds=30)
        )
    engine.dispose()


# --- the picture ------------------------------------------------------------------------


def test_the_png_endpoint_returns_the_stored_bytes_cached_only_when_named(
    app, client, clock, session, fleet_live
):
    make_user(session, runtime(app), "viewer", m.Role.VIEWER)
    login(client, "viewer")
    shot = fleet_live[ROADSIDE]
    stored = base64.b64decode(str(shot.data["png_base64"]))
    for url, cache in (
        (f"/screens/{ROADSIDE}/screenshot.png", "no-store"),  # whatever is newest
        (f"/screens/{ROADSIDE}/screenshot.png?shot={shot.command_id}", "immutable"),
    ):
        response = client.get(url)
        assert response.status_code == 200
        assert response.data == stored
        assert response.mimetype == "image/png"
        assert cache in response.headers["Cache-Control"]
    # A newer screenshot replaces it; the older one stays reachable by its id.
    newer = report_screenshot(
        fleet_store(app), ROADSIDE, frame_png("Later", (192, 96)), timedelta(0), clock
    )
    assert client.get(f"/screens/{ROADSIDE}/screenshot.png").data == base64.b64decode(
        str(newer.data["png_base64"])
    )
    assert client.get(f"/screens/{ROADSIDE}/screenshot.png?shot={shot.command_id}").data == stored
    assert client.get("/screens/sig-east-hall/screenshot.png").status_code == 404  # none yet
    assert client.get("/screens/portal-north-pool/screenshot.png").status_code == 404
    assert client.get("/screens/nobody/screenshot.png").status_code == 404


def test_a_tile_gets_a_small_jpeg_of_a_full_hd_frame_and_a_roadside_canvas_as_it_is(
    app, client, clock, session, world
):
    make_user(session, runtime(app), "viewer", m.Role.VIEWER)
    login(client, "viewer")
    big = report_screenshot(
        fleet_store(app), "sig-east-hall", frame_png("Term 1", (1920, 1080)), timedelta(0), clock
    )
    small = report_screenshot(
        fleet_store(app), ROADSIDE, frame_png("Roadworks", (192, 96)), timedelta(0), clock
    )
    tile = client.get(f"/screens/sig-east-hall/thumbnail?shot={big.command_id}")
    assert tile.mimetype == "image/jpeg"
    assert "immutable" in tile.headers["Cache-Control"]
    with Image.open(io.BytesIO(tile.data)) as image:
        assert image.size == (480, 270)
    full = base64.b64decode(str(big.data["png_base64"]))
    assert len(tile.data) < len(full) / 4
    canvas = client.get(f"/screens/{ROADSIDE}/thumbnail?shot={small.command_id}")
    assert canvas.mimetype == "image/png"
    assert canvas.data == base64.b64decode(str(small.data["png_base64"]))
    assert client.get("/screens/portal-north-pool/thumbnail").status_code == 404
    anonymous = app.test_client()
    assert (
        anonymous.get(f"/screens/sig-east-hall/thumbnail?shot={big.command_id}").status_code == 302
    )


def test_something_that_is_not_a_png_is_never_served(app, client, clock, session, world):
    make_user(session, runtime(app), "viewer", m.Role.VIEWER)
    login(client, "viewer")
    report_screenshot(fleet_store(app), "sig-east-hall", frame_png("x"), timedelta(0), clock)
    html = b"<script>alert(1)</script>"
    fleet_store(app).record_command_result(
        CommandResult(
            command_id="cmd-html",
            device_id="sig-east-hall",
            ok=True,
            data={"png_base64": base64.b64encode(html).decode()},
            at=clock.now() + timedelta(seconds=1),
        ),
        clock.now(),
    )
    assert client.get("/screens/sig-east-hall/screenshot.png?shot=cmd-html").status_code == 404
    newest = client.get("/screens/sig-east-hall/screenshot.png")  # falls back to the PNG
    assert newest.data.startswith(b"\x89PNG")


# --- schema ------------------------------------------------------------------


def test_the_migration_builds_the_screenshot_requests_table(db):
    engine = cms_db.make_engine(db)
    cms_db.migrate(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, m.Base.metadata)
    engine.dispose()
    assert [d for d in diff if "screenshot_requests" in repr(d)] == []
