from __future__ import annotations

import hashlib
import hmac
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from central_cms.analytics.health_rules import AlertRules, Level, Transitions, evaluate
from central_cms.analytics.model import DeviceInfo, DeviceSnapshot
from central_cms.analytics.notify import HealthMonitor, WebhookNotifier
from central_cms.analytics.sqlite_store import SqliteStore
from devices.clock import ManualClock
from devices.protocol import DeviceState, Throttling
from tests.analytics.roadside import INFO, NOW, health, status

RULES = AlertRules()


def snapshot(status_=None, health_=None, received=NOW, seen=NOW, info=INFO):
    return DeviceSnapshot("sig-road-01", info, status_, received, health_, seen)


def rules_hit(snap, now=NOW):
    return {(f.rule, f.level) for f in evaluate(snap, RULES, now)}


def test_a_healthy_device_raises_nothing():
    assert rules_hit(snapshot(status(), health())) == set()


def test_offline_is_reported_only_after_the_configured_minutes():
    offline = snapshot(status(DeviceState.OFFLINE), health(), received=NOW - timedelta(minutes=9))
    assert rules_hit(offline) == set()
    assert rules_hit(offline, NOW + timedelta(minutes=2)) == {("offline", Level.CRITICAL)}


def test_a_device_that_went_silent_without_a_last_will_counts_as_offline():
    silent = snapshot(status(), health(), seen=NOW - timedelta(minutes=30))
    (finding,) = evaluate(silent, RULES, NOW)
    assert finding.rule == "offline" and "silent for 30 min" in finding.message


def test_heat_disk_memory_and_current_throttling_are_flagged_but_old_throttling_is_not():
    hot = health(
        temperature_c=83.0,
        disk_used_percent=88,
        memory_used_percent=97,
        throttling=Throttling(raw=0x4, flags=("throttled",)),
    )
    assert rules_hit(snapshot(status(), hot)) == {
        ("temperature", Level.CRITICAL),
        ("disk", Level.WARNING),
        ("memory", Level.WARNING),
        ("throttling", Level.WARNING),
    }
    since_boot = health(throttling=Throttling(raw=0x40000, flags=("throttling-occurred",)))
    assert rules_hit(snapshot(status(), since_boot)) == set()


def test_a_manifest_not_applied_after_the_grace_period_is_flagged():
    assert rules_hit(snapshot(status(manifest_version=6), health())) == {
        ("manifest", Level.WARNING)
    }
    fresh = DeviceInfo(**{**INFO.__dict__, "manifest_published_at": NOW - timedelta(minutes=5)})
    assert rules_hit(snapshot(status(manifest_version=6), health(), info=fresh)) == set()


def test_transitions_report_each_change_once():
    t = Transitions()
    hot = evaluate(snapshot(status(), health(temperature_c=77.0)), RULES, NOW)
    assert [f.rule for f in t.update(hot).raised] == ["temperature"]
    assert t.update(hot).raised == ()
    hotter = evaluate(snapshot(status(), health(temperature_c=85.0)), RULES, NOW)
    assert [f.level for f in t.update(hotter).raised] == [Level.CRITICAL]
    assert [f.rule for f in t.update([]).cleared] == ["temperature"]


class Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, object], str | None, bytes]] = []
    arrived = threading.Event()

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append(
            (json.loads(body), self.headers.get("X-Digital-Spaces-Signature"), body)
        )
        self.send_response(204)
        self.end_headers()
        Receiver.arrived.set()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    Receiver.received = []
    Receiver.arrived.clear()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/it"
    server.shutdown()
    server.server_close()


def test_the_monitor_posts_a_signed_webhook_when_a_roadside_screen_goes_offline(tmp_path, webhook):
    store = SqliteStore(tmp_path / "fleet.sqlite3")
    store.register_devices([INFO])
    clock = ManualClock(NOW)
    store.record_status(status(), NOW)
    monitor = HealthMonitor(store, WebhookNotifier(webhook, secret="s3cret"), clock)
    assert monitor.tick().raised == ()
    store.record_status(status(DeviceState.OFFLINE), NOW + timedelta(minutes=1))
    clock.advance(minutes=12)
    monitor.tick()
    assert Receiver.arrived.wait(10)
    payload, signature, body = Receiver.received[0]
    assert payload["raised"] == [
        {
            "device_id": "sig-road-01",
            "rule": "offline",
            "level": "critical",
            "message": "offline for 11 min",
        }
    ]
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert signature == f"sha256={expected}"
    store.close()


class Recording:
    def __init__(self):
        self.raised: list[str] = []
        self.cleared: list[str] = []

    def notify(self, changes, at):
        self.raised += [f.rule for f in changes.raised]
        self.cleared += [f.rule for f in changes.cleared]


def test_of_two_ingest_processes_one_notifies_and_the_other_takes_over_where_it_left(tmp_path):
    path = tmp_path / "fleet.sqlite3"
    first_store, second_store = SqliteStore(path), SqliteStore(path)
    first_store.register_devices([INFO])
    first_store.record_status(status(), NOW)
    first_store.record_health([health()], NOW)
    clock = ManualClock(NOW)
    first, second = Recording(), Recording()
    monitors = [
        HealthMonitor(first_store, first, clock, interval_s=60, owner="ingest-1"),
        HealthMonitor(second_store, second, clock, interval_s=60, owner="ingest-2"),
    ]
    first_store.record_status(status(DeviceState.OFFLINE), NOW + timedelta(minutes=1))
    for _ in range(15):  # both tick every minute for a quarter of an hour
        clock.advance(minutes=1)
        for monitor in monitors:
            monitor.tick()
    assert (first.raised, second.raised) == (["offline"], [])

    clock.advance(minutes=4)  # ingest-1 stopped: its three-minute lease runs out
    monitors[1].tick()
    assert second.raised == []  # already raised by ingest-1: not announced again
    first_store.record_status(status(), clock.now())
    clock.advance(minutes=1)
    monitors[1].tick()
    assert (first.cleared, second.cleared) == ([], ["offline"])
    first_store.close()
    second_store.close()
