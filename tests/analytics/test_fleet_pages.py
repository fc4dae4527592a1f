"""Device health paged in SQL (issue 17) gives what the Python rules give.

`sqlite_fleet_pages` states `health_rules.evaluate` over columns so a page of 10,000
devices is chosen in SQLite. Here a fleet with every rule on and off (and on the edges of
IT's thresholds) is written through the store's real write path, and every filter, sort
and page is held to an oracle built from `store.fleet()`, `fleet_rows` and sort keys
written out in Python, as the page sorted before it paged.
"""

from __future__ import annotations

import random
import sqlite3
from datetime import timedelta
from typing import Any

import pytest

from central_cms.analytics.health_rules import AlertRules
from central_cms.analytics.model import DeviceInfo, FleetFilter
from central_cms.analytics.presenters import FleetRow, fleet_rows
from central_cms.analytics.sqlite_store import SqliteStore
from devices.protocol import DeviceKind, DeviceState, Health, Status, Throttling
from testkit.messages import T0

NOW = T0 + timedelta(days=1)
RULES = AlertRules(
    offline_after_min=10,
    temperature_warning_c=70,
    temperature_critical_c=80,
    disk_warning_percent=85,
    disk_critical_percent=95,
    memory_warning_percent=90,
    manifest_grace_min=15,
)
WORST = {"critical": 0, "warning": 1, "ok": 2}
# What the page sorted by before it paged in SQL (the same keys, device id last).
ORACLE_SORTS: dict[str, Any] = {
    "device": lambda r: r.snapshot.device_id,
    "site": lambda r: (r.snapshot.info.site_id if r.snapshot.info else "", r.snapshot.device_id),
    "kind": lambda r: (r.snapshot.info.kind if r.snapshot.info else "", r.snapshot.device_id),
    "state": lambda r: (r.online, r.snapshot.device_id),
    "problems": lambda r: (WORST[r.worst], r.snapshot.device_id),
    "last_seen": lambda r: (
        r.snapshot.last_seen.timestamp() if r.snapshot.last_seen else 0,
        r.snapshot.device_id,
    ),
    "temperature": lambda r: (
        -(r.snapshot.health.temperature_c or 0) if r.snapshot.health else 0,
        r.snapshot.device_id,
    ),
    "disk": lambda r: (
        -r.snapshot.health.disk_used_percent if r.snapshot.health else 0,
        r.snapshot.device_id,
    ),
    "memory": lambda r: (
        -r.snapshot.health.memory_used_percent if r.snapshot.health else 0,
        r.snapshot.device_id,
    ),
}


def health(device_id: str, rng: random.Random, at) -> Health:
    return Health(
        device_id=device_id,
        at=at,
        uptime_s=100,
        cpu_percent=10,
        load_1m=0.1,
        memory_used_percent=rng.choice([20, 89.9, 90, 99]),
        memory_available_bytes=1,
        disk_used_percent=rng.choice([10, 84.9, 85, 94.9, 95, 100]),
        disk_free_bytes=1,
        net_bytes_sent=0,
        net_bytes_recv=0,
        temperature_c=rng.choice([None, 40, 69.9, 70, 79.9, 80, 90]),
        throttling=rng.choice(
            [None, Throttling(raw=0), Throttling(raw=0x50000), Throttling(raw=0x4, flags=("x",))]
        ),
    )


def seeded_fleet(path, count: int = 240, seed: int = 17) -> SqliteStore:
    rng = random.Random(seed)
    store = SqliteStore(path)
    infos = []
    for n in range(count):
        device_id = f"dev-{n:03d}"
        published = rng.choice([None, NOW - timedelta(minutes=5), NOW - timedelta(hours=2)])
        infos.append(
            DeviceInfo(
                device_id,
                f"site-{n % 4}",
                rng.choice(["signage", "portal"]),
                "UTC",
                f"Device {n}",
                rng.choice([None, 3, 4]),
                published,
            )
        )
    store.register_devices(infos)
    for n, info in enumerate(infos):
        seen = NOW - timedelta(minutes=rng.choice([0, 1, 9, 10, 11, 60]))
        if n % 11 == 0:
            continue  # never seen
        if rng.random() < 0.85:
            status = Status(
                device_id=info.device_id,
                kind=DeviceKind(info.kind),
                state=rng.choice([DeviceState.ONLINE, DeviceState.ONLINE, DeviceState.OFFLINE]),
                software_version=rng.choice(["1.2.0", "1.10.1", "1.9"]),
                manifest_version=rng.choice([None, 3, 4]),
                at=seen,
            )
            store.record_status(status, seen)
        if rng.random() < 0.8:
            # An older sample after the newer one: the store keeps the newer as latest.
            store.record_health([health(info.device_id, rng, seen)], seen)
            store.record_health([health(info.device_id, rng, seen - timedelta(minutes=5))], seen)
    # A device that reports but is not in the directory (yet) is on the page too.
    store.record_seen(["stray-device"], NOW)
    return store


def oracle(store: SqliteStore, chosen: FleetFilter) -> list[FleetRow]:
    rows = fleet_rows(store.fleet(), RULES, NOW)
    if chosen.site:
        rows = [r for r in rows if r.snapshot.info and r.snapshot.info.site_id == chosen.site]
    if chosen.kind:
        rows = [r for r in rows if r.snapshot.info and r.snapshot.info.kind == chosen.kind]
    if chosen.state in ("online", "offline"):
        rows = [r for r in rows if r.online == (chosen.state == "online")]
    elif chosen.state == "problems":
        rows = [r for r in rows if r.findings]
    return sorted(rows, key=ORACLE_SORTS[chosen.sort])


@pytest.fixture
def store(tmp_path):
    made = seeded_fleet(tmp_path / "fleet.sqlite3")
    yield made
    made.close()


@pytest.mark.parametrize("sort", sorted(ORACLE_SORTS))
def test_every_sort_pages_through_the_fleet_in_the_order_the_rules_give(store, sort):
    chosen = FleetFilter(sort=sort)
    expected = [r.snapshot.device_id for r in oracle(store, chosen)]
    paged: list[str] = []
    for number in range(1, 6):  # 241 devices: four pages of 50 and one of 41
        page = store.fleet_page(RULES, NOW, chosen, number, 50, 10)
        assert page.number == number
        paged += page.device_ids
    assert len(expected) == 241
    assert paged == expected


@pytest.mark.parametrize(
    "chosen",
    [
        FleetFilter(),
        FleetFilter(state="online"),
        FleetFilter(state="offline", sort="last_seen"),
        FleetFilter(state="problems", sort="temperature"),
        FleetFilter(site="site-2", kind="portal", sort="disk"),
        FleetFilter(site="site-1", state="problems"),
    ],
)
def test_filters_counts_and_the_worst_devices_agree_with_the_rules(store, chosen):
    expected = oracle(store, chosen)
    page = store.fleet_page(RULES, NOW, chosen, 1, 500, 12)
    assert page.device_ids == [r.snapshot.device_id for r in expected]
    assert page.counts.devices == len(expected)
    assert page.counts.online == sum(r.online for r in expected)
    assert page.counts.problems == sum(len(r.findings) for r in expected)
    assert page.counts.with_problems == sum(1 for r in expected if r.findings)
    worst = sorted((r for r in expected if r.findings), key=ORACLE_SORTS["problems"])
    assert page.worst_ids == [r.snapshot.device_id for r in worst[:12]]
    assert page.counts.problems > 0 or chosen.state == "online"


def test_a_page_past_the_end_shows_the_last_page(store):
    page = store.fleet_page(RULES, NOW, FleetFilter(site="site-3"), 99, 20, 5)
    total = page.counts.devices
    assert page.number == -(-total // 20)
    assert len(page.device_ids) == total - (page.number - 1) * 20


def test_a_store_written_before_the_columns_gets_them_filled_on_open(store, tmp_path):
    before = store.fleet_page(RULES, NOW, FleetFilter(), 1, 500, 500)
    store.close()
    old = tmp_path / "fleet.sqlite3"
    conn = sqlite3.connect(old)
    # The device_state of the previous version: the bodies only.
    conn.executescript(
        "CREATE TABLE old_state AS SELECT device_id, status, status_received_ms, health, "
        "last_seen_ms, dropped_total FROM device_state; DROP TABLE device_state; "
        "ALTER TABLE old_state RENAME TO device_state;"
    )
    conn.close()
    reopened = SqliteStore(old)
    try:
        after = reopened.fleet_page(RULES, NOW, FleetFilter(), 1, 500, 500)
        assert after == before
    finally:
        reopened.close()
