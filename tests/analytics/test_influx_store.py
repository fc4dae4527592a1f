"""The InfluxDB store: writes through influxdb-client to a real server.

No InfluxDB server can be installed here, so writes are checked against Debian's
victoria-metrics, which accepts the InfluxDB v2 write API; points are read back
through its export API. The whole store, queries included, runs against a real
InfluxDB 2.x when INFLUXDB_URL (and INFLUXDB_TOKEN, INFLUXDB_ORG, INFLUXDB_BUCKET) is set.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

import pytest

from central_cms.analytics.influx_store import InfluxSettings, InfluxStore
from central_cms.analytics.model import DeviceInfo, Filters
from central_cms.analytics.ports import report
from central_cms.analytics.sqlite_store import SqliteStore
from devices.protocol.events_wire import from_model
from testkit.brokers import free_port
from tests.analytics.events import batch, joined, play, promo, session_ended

# victoria-metrics silently drops samples more than two days in the future: use the past.
T0 = datetime(2025, 12, 1, 1, 0, tzinfo=UTC)
SIG = DeviceInfo("sig-riverton-01", "riverton-lib", "signage", "Australia/Perth")
PORTAL = DeviceInfo("portal-riverton-01", "riverton-lib", "portal", "Australia/Perth")

pytestmark = pytest.mark.skipif(
    shutil.which("victoria-metrics") is None, reason="needs Debian's victoria-metrics"
)


class VictoriaMetrics:
    def __init__(self, folder) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [
                "victoria-metrics",
                f"-httpListenAddr=127.0.0.1:{self.port}",
                f"-storageDataPath={folder}",
                "-search.latencyOffset=0",
                "-retentionPeriod=100y",  # our test instants are fixed dates
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise
                time.sleep(0.05)  # polling a server that is coming up

    def export(
        self, name_regex: str
    ) -> dict[tuple[str, tuple[tuple[str, str], ...]], dict[int, float]]:
        """metric name and labels -> {timestamp ms: value}, everything stored so far."""
        urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=10).read()
        query = urlencode(
            {"match[]": f'{{__name__=~"{name_regex}"}}', "start": "2000-01-01T00:00:00Z"}
        )
        with urllib.request.urlopen(f"{self.url}/api/v1/export?{query}", timeout=10) as answer:
            series = [json.loads(line) for line in answer.read().decode().splitlines() if line]
        out = {}
        for s in series:
            labels = dict(s["metric"])
            name = labels.pop("__name__")
            out[(name, tuple(sorted(labels.items())))] = dict(
                zip(s["timestamps"], s["values"], strict=True)
            )
        return out

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            self.process.wait(20)


@pytest.fixture
def vm(tmp_path):
    server = VictoriaMetrics(tmp_path / "vm")
    yield server
    server.stop()


@pytest.fixture
def state(tmp_path):
    s = SqliteStore(tmp_path / "state.sqlite3")
    s.register_devices([SIG, PORTAL])
    yield s
    s.close()


def influx(url, state, **kw):
    return InfluxStore(
        InfluxSettings(url=url, org="city", token="t", bucket="analytics", **kw),
        ledger=state,
        devices=state.device,
    )


def test_events_written_through_influxdb_client_read_back_as_sent(vm, state):
    store = influx(vm.url, state)
    plays = batch(
        "sig-riverton-01",
        [play(n, T0 + timedelta(seconds=10 * n), shown_s=4 + n) for n in range(1, 201)],
    )
    visits = batch(
        "portal-riverton-01",
        [
            joined(1, T0, "aa" * 8),
            session_ended(2, T0, "aa" * 8, 1800.0),
            promo(3, T0, clicked=True),
        ],
    )
    outcomes = store.store_batches([(from_model(plays), SIG), (from_model(visits), PORTAL)])
    assert [o.up_to_seq for o in outcomes] == [200, 3]
    exported = vm.export("play_.*|portal_.*")
    labels = (
        ("campaign", "swim-school"),
        ("device", "sig-riverton-01"),
        ("item", "swim-1"),
        ("site", "riverton-lib"),
    )
    shown: dict[int, float] = {}
    for outcome in ("completed", "interrupted"):
        shown |= exported.get(("play_shown_s", tuple(sorted((*labels, ("outcome", outcome))))), {})
    sent = {int(e.at.timestamp() * 1000): 4.0 + e.seq for e in plays.events}
    assert shown == sent
    dwell = exported[
        (
            "portal_dwell_s",
            (
                ("campaign", "none"),
                ("device", "portal-riverton-01"),
                ("site", "riverton-lib"),
                ("type", "session_ended"),
            ),
        )
    ]
    assert dwell == {int(T0.timestamp() * 1000): 1800.0}
    clicks = [k for k in exported if k[0] == "portal_count" and ("type", "promo_clicked") in k[1]]
    assert len(clicks) == 1
    # no tag carries a visitor: only the bounded dimensions are labels
    assert all(
        {k for k, _ in key[1]} <= {"site", "device", "campaign", "item", "outcome", "type", "alert"}
        for key in exported
    )
    store.close()


def test_a_resend_is_not_written_twice_and_the_ack_waits_for_a_gap(vm, state):
    store = influx(vm.url, state)
    first = batch("sig-riverton-01", [play(n, T0 + timedelta(seconds=n)) for n in range(1, 11)])
    later = batch("sig-riverton-01", [play(n, T0 + timedelta(seconds=n)) for n in range(21, 31)])
    gap = batch("sig-riverton-01", [play(n, T0 + timedelta(seconds=n)) for n in range(11, 21)])
    assert store.store_batches([(from_model(first), SIG)])[0].up_to_seq == 10
    assert store.store_batches([(from_model(later), SIG)])[0].up_to_seq == 10
    again = store.store_batches([(from_model(later), SIG)])[0]
    assert (again.inserted, again.duplicates, again.up_to_seq) == (0, 10, 10)
    assert store.store_batches([(from_model(gap), SIG)])[0].up_to_seq == 30
    points = sum(len(v) for k, v in vm.export("play_seq").items())
    assert points == 30
    store.close()


def test_seqs_the_device_dropped_unsent_let_the_ack_pass_and_count_as_lost(vm, state):
    store = influx(vm.url, state)
    first = batch("sig-riverton-01", [play(n, T0 + timedelta(seconds=n)) for n in range(1, 11)])
    assert store.store_batches([(from_model(first), SIG)])[0].up_to_seq == 10
    # The outbox filled: 5-30 went unacknowledged (5-10 had reached the CMS), 11-30 unsent.
    held = batch("sig-riverton-01", [play(n, T0 + timedelta(seconds=n)) for n in range(31, 41)])
    held = held.model_copy(update={"dropped": ((5, 30),), "dropped_total": 26})
    for _ in range(2):  # a re-send carries the same ranges: counted once
        outcome = store.store_batches([(from_model(held), SIG)])[0]
        assert outcome.up_to_seq == 40
    (snapshot,) = [s for s in state.fleet() if s.device_id == "sig-riverton-01"]
    assert snapshot.events_lost == 20
    assert sum(len(v) for v in vm.export("play_seq").values()) == 20
    store.close()


def test_a_write_the_server_refused_is_never_acknowledged(vm, state):
    store = influx(vm.url, state, retries=0)
    vm.stop()
    with pytest.raises(Exception):  # noqa: B017 - whatever the client raises, no ack
        store.store_batches([(from_model(batch("sig-riverton-01", [play(1, T0)])), SIG)])
    assert state.watermark("sig-riverton-01", "a" * 32) == 0
    store.close()


@pytest.mark.skipif(
    not os.environ.get("INFLUXDB_URL"), reason="set INFLUXDB_URL for a live InfluxDB"
)
def test_the_whole_store_answers_like_sqlite_against_a_live_influxdb(tmp_path, state):
    store = InfluxStore(
        InfluxSettings(
            url=os.environ["INFLUXDB_URL"],
            org=os.environ.get("INFLUXDB_ORG", "city"),
            token=os.environ.get("INFLUXDB_TOKEN", ""),
            bucket=os.environ.get("INFLUXDB_BUCKET", "analytics"),
            report_timezone="Australia/Perth",
        ),
        ledger=state,
        devices=state.device,
    )
    reference = SqliteStore(tmp_path / "reference.sqlite3")
    a, b = os.urandom(8).hex(), os.urandom(8).hex()
    day2 = T0 + timedelta(days=1)
    device = f"sig-live-{os.urandom(3).hex()}"
    info = DeviceInfo(device, f"site-{os.urandom(3).hex()}", "portal", "Australia/Perth")
    state.register_devices([info])
    events = batch(
        device,
        [
            play(1, T0),
            play(2, T0, shown_s=3),
            joined(3, T0, a),
            joined(4, day2, a),
            joined(5, day2, b),
            session_ended(6, day2, b, 600),
            promo(7, T0, False),
            promo(8, T0, True),
        ],
    )
    store.store_batches([(from_model(events), info)])
    reference.store_batches([(from_model(events), info)])
    filters = Filters(date(2025, 12, 1), date(2025, 12, 2), site_id=info.site_id)
    assert report(store, filters) == report(reference, filters)
    assert sorted(store.screen_plays(filters)) == sorted(reference.screen_plays(filters))
    store.close()
    reference.close()
