"""The REST API against its own OpenAPI document (issue 13, point 11).

A real CMS (werkzeug on a free port, PostgreSQL, its own Mosquitto) seeded with a small
city and an admin's API token; schemathesis loads /api/v1/openapi.json and runs every
phase with every check: no answer may be a server error, and every answer (status, content
type, headers, body) must be the one the document promises. Bounded and seeded so it is
reproducible and takes a couple of minutes on a 2-core CI machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema_rs
import pytest
import requests
from flask import Flask
from sqlalchemy import select
from werkzeug.serving import make_server

from central_cms import alerts, campaigns, fleet, groups, library, releases
from central_cms import db as cms_db
from central_cms import models as m
from central_cms.app import create_app
from central_cms.compiler import Targets
from central_cms.config import CmsConfig
from central_cms.feeds import service as feeds
from central_cms.feeds.addresses import FeedHosts
from central_cms.feeds.fetch import Fetched, FetchFailed
from central_cms.feeds.models import Feed
from central_cms.feeds.refresh import fetch_source
from central_cms.policy import Actor
from central_cms.runtime import parts, runtime
from devices.clock import SystemClock
from devices.protocol import ItemKind, ProfileKind, Schedule, Severity, TextSlide
from testkit.brokers import RunningBroker, free_port, start_mosquitto
from testkit.city import add_profile, add_screen, add_site
from testkit.images import png
from testkit.releases import build_wheel

# Per operation and phase: ~2,000 requests, 40 s on an idle 2-core machine, 3 min when
# seven other test runs share it.
MAX_EXAMPLES = 25
SEED = 20261202
# Every check stays on for every operation. Two rules are beyond JSON Schema, so for the
# operations they govern a schema-valid body may get the document's 422 (naming the
# field): whether some bytes are a PNG, JPEG, WebP, GIF, MP4 or WebM the CMS can read
# (`format: binary`), and a schedule's ends_on on or after its starts_on (JSON Schema
# cannot compare two values). Likewise for what a body names that must exist and be free
# (a group's screens and name, a user's name, a playlist's media, its valid_until on or
# after valid_from; a feed's site and free id; a release's wheel, a channel's release
# and pilots). Uploads stay out of the stateful phase: schemathesis 4.32
# there sends a real PNG in place of the multipart file it had negated, then reports the
# valid upload's 201 as "schema-violating request accepted"; the coverage and fuzzing
# phases still send uploads their negative data.
LENIENT = (
    "POST /api/v1/media",
    "POST /api/v1/campaigns",
    "PUT /api/v1/campaigns/{campaign_id}",
    "POST /api/v1/groups",
    "PUT /api/v1/groups/{group_id}",
    "POST /api/v1/users",
    "POST /api/v1/playlists",
    "PUT /api/v1/playlists/{playlist_id}",
    "POST /api/v1/feeds",
    "PUT /api/v1/feeds/{feed_id}",
    "POST /api/v1/releases",
    "PUT /api/v1/channels/{channel}",
)
UPLOADS = ("POST /api/v1/media", "POST /api/v1/releases")
CONFIG = "".join(
    f"""
[[operations]]
include-name = "{name}"
[operations.checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "403", "404", "409", "422"]
"""
    + ("[operations.phases.stateful]\nenabled = false\n" if name in UPLOADS else "")
    for name in LENIENT
)
ADMIN = Actor("api-seed", m.Role.ADMIN)


@dataclass
class RunningCms:
    app: Flask
    base_url: str
    token: str


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[RunningBroker]:
    """Fuzzed alerts and manifests go to a broker of our own, never the shared one."""
    port = free_port()
    broker = start_mosquitto(
        tmp_path / "broker", f"listener {port} 127.0.0.1\nallow_anonymous true\n", port
    )
    yield broker
    broker.stop()


def seed_small_city(app: Flask) -> str:
    """Two sites, their screens, a poster, a draft campaign, an alert, a feed, a group
    following a channel that offers a release; returns an admin's API token (full rights)."""
    rt = runtime(app)
    session = cms_db.database(app).sessions()
    try:
        for site_id in ("north-pool", "south-library"):
            add_site(session, rt, site_id, requires_approval=site_id == "north-pool", actor=ADMIN)
        add_profile(session, rt, "indoor", ProfileKind.INDOOR, actor=ADMIN)
        add_profile(session, rt, "led-small", ProfileKind.ROADSIDE, actor=ADMIN)
        session.commit()
        add_screen(session, rt, "sig-north-pool", "north-pool", "indoor", actor=ADMIN)
        add_screen(session, rt, "led-south-library", "south-library", "led-small", actor=ADMIN)
        poster = library.upload(
            session, rt, ADMIN, filename="poster.png", data=png(800, 450), title="Poster"
        )
        campaigns.save(
            session,
            rt,
            ADMIN,
            campaigns.CampaignInput(
                name="Swim school",
                owner_site_id="north-pool",
                priority=50,
                is_default=False,
                schedules=(Schedule(),),
                targets=Targets(sites=frozenset({"north-pool"})),
                items=(
                    campaigns.ItemInput(kind=ItemKind.IMAGE, duration_s=10, media_id=poster.id),
                    campaigns.ItemInput(
                        kind=ItemKind.TEXT, duration_s=10, text=TextSlide(title="Lessons")
                    ),
                ),
            ),
        )
        alerts.send_alert(
            session,
            rt,
            ADMIN,
            scope="north-pool",
            title="Pool closed",
            body="",
            severity=Severity.WARNING,
            expires_at=rt.clock.now() + timedelta(hours=1),
        )
        feeds.save_feed(
            session,
            rt,
            ADMIN,
            feeds.FeedInput(
                id="pool-classes",
                name="Pool classes",
                url=f"http://127.0.0.1:{free_port()}/classes.ics",  # nobody answers: ok false
                kind="ical",
                site_id="north-pool",
                refresh_minutes=15,
                max_age_hours=24,
            ),
            existing=None,
        )
        session.commit()
        indoor = groups.save(session, rt, ADMIN, name="Indoor", device_ids=["sig-north-pool"])
        releases.follow(session, rt, ADMIN, indoor.id, "stable")
        session.commit()
        wheel = build_wheel("2.0.0", rt.config.instance_path / "wheels").read_bytes()
        releases.upload(session, rt, ADMIN, data=wheel, notes="Faster start-up")
        releases.offer(
            session, rt, ADMIN, channel="stable", version="2.0.0", pilots=["sig-north-pool"]
        )
        fleet.create_user(
            session, rt, None, username="api-admin", password="x" * 12, role=m.Role.ADMIN
        )
        user = session.scalars(select(m.User).where(m.User.username == "api-admin")).one()
        return fleet.create_api_token(session, rt, user, "schemathesis")
    finally:
        session.close()


def only_this_machine(feed: Feed, hosts: FeedHosts) -> Fetched:
    """Fuzzed feeds name any host: "fetch now" and the refresher reach 127.0.0.1 only."""
    if urlsplit(feed.url).hostname != "127.0.0.1":
        raise FetchFailed("this test fetches from 127.0.0.1 only")
    return fetch_source(feed, hosts)


@pytest.fixture
def cms(config: CmsConfig, own_broker: RunningBroker) -> Iterator[RunningCms]:
    port = free_port()
    app = create_app(
        config.with_changes(public_url=f"http://127.0.0.1:{port}", mqtt_brokers=(own_broker.url,)),
        clock=SystemClock(),
        feed_fetcher=only_this_machine,
    )
    token = seed_small_city(app)
    httpd = make_server("127.0.0.1", port, app, threaded=True)  # listening on return
    serving = threading.Thread(target=httpd.serve_forever, daemon=True)
    serving.start()
    yield RunningCms(app, f"http://127.0.0.1:{port}", token)
    httpd.shutdown()
    serving.join(10)
    parts(app).close()  # the renewer and feed refresher too, not only the publisher


def test_an_unauthenticated_call_gets_the_documented_json_401(cms):
    spec = requests.get(f"{cms.base_url}/api/v1/openapi.json", timeout=10).json()
    for method, path, headers in (
        ("get", "/api/v1/sites", {}),
        ("post", "/api/v1/campaigns", {}),
        ("get", "/api/v1/devices", {"Authorization": "Bearer ds_revoked-or-made-up"}),
    ):
        answer = requests.request(
            method, f"{cms.base_url}{path}", json={}, headers=headers, timeout=10
        )
        assert answer.status_code == 401
        assert answer.headers["Content-Type"] == "application/json"
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        documented = spec["paths"][path][method]["responses"]["401"]["content"]
        name = documented["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        shape = jsonschema_rs.validator_for(spec["components"]["schemas"][name])
        body = answer.json()
        assert shape.is_valid(body), body
        assert body["status"] == 401
        assert "Authorization: Bearer" in body["message"]


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_schemathesis_finds_no_server_error_and_no_schema_violation(cms, tmp_path):
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG, encoding="utf-8")
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config),
        "run",
        f"{cms.base_url}/api/v1/openapi.json",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--workers",
        "1",
        "--header",
        f"Authorization: Bearer {cms.token}",
        "--request-timeout",
        "10",
        "--generation-database",
        "none",
        "--no-color",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path / "schemathesis"),
    ]
    env = {**os.environ, "SCHEMATHESIS_TELEMETRY": "false"}
    run = subprocess.run(
        command, capture_output=True, text=True, timeout=840, env=env, check=False, cwd=tmp_path
    )
    report = run.stdout + run.stderr
    assert run.returncode == 0, report
    operations = sum(
        len(ops) for ops in cms.app.test_client().get("/api/v1/openapi.json").json["paths"].values()
    )
    assert f"Tested: {operations}" in report, report  # every operation, not a filtered few
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in report, report
