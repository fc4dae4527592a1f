"""Staff pages at a large city's scale (issue 17): a real CMS (gunicorn) over PostgreSQL.

Seeds, in bulk, 10,000 devices at 100 sites, 5,000 campaigns, an audit log, the fleet
store's latest status and health of every device, and 365 days of proof-of-play in the
rolled-up form the analytics store keeps (one row per day, site, campaign and figure: 8
plays a minute on every screen while its site is open, shared among the site's
campaigns). Then times each staff page (first and a late page where it pages) as a
signed-in admin and prints name=value lines:

* pages_devices: devices seeded
* page_<name>_p95_ms: each page's p95 over --requests requests
* pages_p95_ms: the slowest page's p95 (target <= 150 ms)
* report_year_ms: one campaign's report over a year on the analytics page (median;
  target <= 500 ms)
* page_<name>_cpu_ms, pages_cpu_ms, report_year_cpu_ms: the server's CPU per request, and
  load_average_1m: wall times on a shared machine are inflated by the others' work

The database is its own (made and dropped here); so are the broker and the instance
folder. Usage: .venv/bin/python bench/cms_pages.py [--devices N] [--campaigns N]
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psutil
import psycopg
import requests
from flask import Flask
from sqlalchemy import insert

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
SITES = 100
OPEN_MINUTES = 12 * 60  # a site's screens play 12 hours a day
PLAYS_PER_MINUTE = 8
DAYS = 365
PASSWORD = "bench password 17"
ROOT = Path(__file__).resolve().parents[1]


def bench_app() -> Flask:
    """gunicorn's app factory: the CMS as production builds it, minus the manifest
    renewer (which would recompile 10,000 devices on its first tick, mid-measurement)."""
    from central_cms.app import create_app
    from central_cms.config import load_config

    return create_app(load_config(env=os.environ), renewal=False)


def seed_cms(url: str, devices: int, campaigns: int, now: datetime) -> str:
    """Sites, profiles, devices, campaigns (one text slide each), audit entries and an
    admin; returns one campaign's id, the one whose year is reported."""
    from werkzeug.security import generate_password_hash

    from central_cms import db as cms_db
    from central_cms import models as m

    engine = cms_db.make_engine(url)
    cms_db.migrate(engine)
    sites = [f"site-{n:03d}" for n in range(SITES)]
    with engine.begin() as conn:
        conn.execute(
            insert(m.Site),
            [
                {"id": s, "name": f"Site {n:03d}", "address": "", "timezone": "Australia/Perth"}
                for n, s in enumerate(sites)
            ],
        )
        conn.execute(
            insert(m.ScreenProfile),
            [
                {
                    "id": "indoor",
                    "name": "Indoor TV",
                    "kind": "indoor",
                    "width_px": 1920,
                    "height_px": 1080,
                },
                {
                    "id": "led",
                    "name": "Roadside LED",
                    "kind": "roadside",
                    "width_px": 384,
                    "height_px": 192,
                    "min_dwell_s": 8,
                    "allow_video": False,
                },
            ],
        )
        conn.execute(
            insert(m.Device),
            [
                {
                    "id": f"dev-{n:05d}",
                    "name": f"Screen {n:05d}",
                    "kind": "portal" if n % 5 == 4 else "signage",
                    "site_id": sites[n % SITES],
                    "profile_id": "led" if n % 10 == 3 else "indoor",
                    "tags": ["foyer"] if n % 2 else [],
                    "created_at": now,
                }
                for n in range(devices)
            ],
        )
        statuses = ["draft", "pending", "published", "published", "archived"]
        rows = [
            {
                "id": f"camp-{n:05d}",
                "name": f"Campaign {n:05d}",
                "owner_site_id": sites[n % SITES],
                "status": statuses[n % len(statuses)],
                "priority": 50,
                "targets": {"sites": [sites[n % SITES]]},
                "schedules": [],
                "created_by": "bench",
                "created_at": now - timedelta(days=400),
                "updated_at": now - timedelta(minutes=n),
            }
            for n in range(campaigns)
        ]
        conn.execute(insert(m.Campaign), rows)
        conn.execute(
            insert(m.CampaignItem),
            [
                {
                    "id": f"item-{n:05d}",
                    "campaign_id": r["id"],
                    "position": 0,
                    "kind": "text",
                    "duration_s": 10,
                    "text": {"title": r["name"]},
                }
                for n, r in enumerate(rows)
            ],
        )
        conn.execute(
            insert(m.AuditEntry),
            [
                {
                    "at": now - timedelta(minutes=n),
                    "username": "bench",
                    "action": "campaign.save",
                    "entity_type": "campaign",
                    "entity_id": f"camp-{n % campaigns:05d}",
                    "detail": {"name": f"Campaign {n % campaigns:05d}"},
                }
                for n in range(100_000)
            ],
        )
        conn.execute(
            insert(m.User),
            [
                {
                    "username": "bench-admin",
                    "password_hash": generate_password_hash(PASSWORD),
                    "role": m.Role.ADMIN.value,
                    "display_name": "Bench",
                    "sites": [],
                    "created_at": now,
                }
            ],
        )
    engine.dispose()
    return "camp-00002"  # published, at site-002


def seed_analytics(path: Path, devices: int, campaigns: int, now: datetime) -> int:
    """The fleet store's latest status and health of every device, and a year of daily
    plays rollups; returns how many rollup rows."""
    from central_cms.analytics.sqlite_store import SqliteStore
    from devices.protocol import DeviceKind, DeviceState, Health, Status

    SqliteStore(path).close()  # the schema
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN")
    states = []
    for n in range(devices):
        device = f"dev-{n:05d}"
        kind = DeviceKind.PORTAL if n % 5 == 4 else DeviceKind.SIGNAGE
        seen = now - timedelta(minutes=n % 30)  # a few silent past the offline threshold
        status = Status(
            device_id=device,
            kind=kind,
            state=DeviceState.OFFLINE if n % 97 == 0 else DeviceState.ONLINE,
            software_version="1.4.2" if n % 13 else "1.3.9",
            manifest_version=3,
            at=seen,
        )
        health = Health(
            device_id=device,
            at=seen,
            uptime_s=3600,
            cpu_percent=20,
            load_1m=0.5,
            memory_used_percent=40 + n % 60,
            memory_available_bytes=10**8,
            disk_used_percent=30 + n % 70,
            disk_free_bytes=10**9,
            net_bytes_sent=0,
            net_bytes_recv=0,
            temperature_c=45 + n % 45,
        )
        ms = int(seen.timestamp() * 1000)
        states.append((device, status.encode().decode(), ms, health.encode().decode(), ms))
    conn.executemany(
        "INSERT INTO device_state (device_id, status, status_received_ms, health, last_seen_ms) "
        "VALUES (?, ?, ?, ?, ?)",
        states,
    )
    from central_cms.analytics.sqlite_fleet_pages import FACTS_SET

    conn.execute(f"UPDATE device_state SET {FACTS_SET}")
    conn.execute("COMMIT")

    screens_per_site = devices // SITES
    campaigns_per_site = max(1, campaigns // SITES)
    plays = screens_per_site * PLAYS_PER_MINUTE * OPEN_MINUTES // campaigns_per_site
    shown_s = plays * 60 / PLAYS_PER_MINUTE
    today = now.date()

    def rows() -> Iterator[tuple[str, str, str, str, str, float]]:
        for back in range(DAYS, 0, -1):
            day = (today - timedelta(days=back - 1)).isoformat()
            for n in range(campaigns):
                site, campaign = f"site-{n % SITES:03d}", f"camp-{n:05d}"
                yield (day, site, campaign, "", "plays", float(plays))
                yield (day, site, campaign, "", "scheduled_s", shown_s)
                yield (day, site, campaign, "", "shown_s", shown_s * 0.97)

    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO daily_rollups (day, site_id, campaign_id, item_id, metric, value) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        rows(),
    )
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    return DAYS * campaigns * 3


def sign_in(base: str) -> requests.Session:
    http = requests.Session()
    form = http.get(f"{base}/login", timeout=30).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token, "no CSRF token on the sign-in page"
    answer = http.post(
        f"{base}/login",
        data={"username": "bench-admin", "password": PASSWORD, "csrf_token": token.group(1)},
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 302, answer.text[:500]
    return http


def server_cpu_s(master: int) -> float:
    """CPU seconds the gunicorn workers have used so far: a figure that, unlike wall
    time, other work on a shared machine barely moves."""
    workers = psutil.Process(master).children()
    return sum(w.cpu_times().user + w.cpu_times().system for w in workers)


def timed_ms(
    http: requests.Session, url: str, requests_n: int, master: int
) -> tuple[list[float], float]:
    """Wall milliseconds of each request, and the server's CPU milliseconds per request."""
    for _ in range(3):  # warm: templates compiled, connections pooled
        http.get(url, timeout=60).raise_for_status()
    times = []
    cpu_before = server_cpu_s(master)
    for _ in range(requests_n):
        started = time.perf_counter()
        answer = http.get(url, timeout=60)
        times.append((time.perf_counter() - started) * 1000)
        answer.raise_for_status()
    return times, (server_cpu_s(master) - cpu_before) * 1000 / requests_n


def p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20, method="inclusive")[-1]


def wait_until_serving(base: str, process: subprocess.Popen[bytes], limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited with {process.returncode}")
        try:
            if requests.get(f"{base}/login", timeout=10).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(0.2)  # polling a process we started, bounded by the deadline
    raise SystemExit("the CMS did not answer in time")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--campaigns", type=int, default=5_000)
    parser.add_argument("--requests", type=int, default=40)
    options = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from testkit.brokers import free_port, start_mosquitto

    name = f"ds_bench_pages_{secrets.token_hex(4)}"
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    now = datetime.now(UTC)
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    folder = Path(tempfile.mkdtemp(prefix="ds-bench-pages-"))
    broker = None
    process = None
    try:
        started = time.perf_counter()
        campaign = seed_cms(url, options.devices, options.campaigns, now)
        rollups = seed_analytics(
            folder / "analytics.sqlite3", options.devices, options.campaigns, now
        )
        print(f"seed_s={time.perf_counter() - started:.1f}", flush=True)
        print(f"rollup_rows={rollups}")
        mqtt_port, port = free_port(), free_port()
        broker = start_mosquitto(
            folder / "broker", f"listener {mqtt_port} 127.0.0.1\nallow_anonymous true\n", mqtt_port
        )
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DS_CMS_DATABASE_URL": url,
            "DS_CMS_INSTANCE_PATH": str(folder / "instance"),
            "DS_CMS_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "DS_CMS_MQTT_BROKERS": f"mqtt://127.0.0.1:{mqtt_port}",
            "DS_CMS_ANALYTICS_STORE": f"sqlite:///{folder / 'analytics.sqlite3'}",
        }
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--timeout",
                "120",
                "--config",
                "python:central_cms.gunicorn_conf",
                "bench.cms_pages:bench_app()",
            ],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=open(folder / "gunicorn.log", "wb"),  # noqa: SIM115 - lives with the process
        )
        base = f"http://127.0.0.1:{port}"
        wait_until_serving(base, process, 300)
        http = sign_in(base)
        print(f"pages_devices={options.devices}")
        pages = {
            "campaigns": "/campaigns/",
            "campaigns_late": "/campaigns/?page=80",
            "campaigns_published": "/campaigns/?status=published&page=10",
            "devices": "/devices/",
            "devices_late": "/devices/?page=150",
            "screens": "/screens/?paused=1",
            "screens_late": "/screens/?paused=1&page=120",
            "fleet": "/analytics/fleet",
            "fleet_sorted_late": "/analytics/fleet?sort=temperature&page=150",
            "fleet_problems": "/analytics/fleet?state=problems&site=site-007",
            "analytics": "/analytics/",
            "audit": "/audit/",
            "audit_late": "/audit/?page=1500",
        }
        slowest = slowest_cpu = 0.0
        for label, path in pages.items():
            times, cpu_ms = timed_ms(http, base + path, options.requests, process.pid)
            slowest, slowest_cpu = max(slowest, p95(times)), max(slowest_cpu, cpu_ms)
            print(f"page_{label}_p95_ms={p95(times):.1f} page_{label}_cpu_ms={cpu_ms:.1f}")
        print(f"pages_p95_ms={slowest:.1f}")
        print(f"pages_cpu_ms={slowest_cpu:.1f}")  # the costliest page's server CPU
        print(f"load_average_1m={os.getloadavg()[0]:.1f}")
        end = now.astimezone().date()
        start: date = end - timedelta(days=DAYS - 1)
        year = f"/analytics/?campaign={campaign}&start={start.isoformat()}&end={end.isoformat()}"
        times, cpu_ms = timed_ms(http, base + year, max(5, options.requests // 4), process.pid)
        print(f"report_year_ms={statistics.median(times):.1f}")
        print(f"report_year_p95_ms={p95(times):.1f}")
        print(f"report_year_cpu_ms={cpu_ms:.1f}")
    finally:
        if process is not None:
            process.send_signal(signal.SIGTERM)
            process.wait(60)
        if broker is not None:
            broker.stop()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        subprocess.run(["rm", "-rf", str(folder)], check=False)


if __name__ == "__main__":
    main()
