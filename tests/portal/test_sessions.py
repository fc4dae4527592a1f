"""Session analytics and limits on the recording gateway; ndsctl json parsing."""

from __future__ import annotations

from devices.clock import ManualClock
from devices.protocol import SessionEndedData
from portal.gateway import RecordingGateway, parse_ndsctl_json
from portal.privacy import client_hash
from portal.sessions import SessionMonitor
from portal.sources import MemoryRecorder
from testkit.portal import NOW, Visitor

SECRET = b"s" * 40
NDSCTL_ONE = """{
  "mac":"92:74:f8:a1:d7:d3", "ip":"10.77.1.2", "token":"2a85c9c9",
  "state":"Authenticated", "session_start":"1795444429", "session_end":"null",
  "download_this_session":"12", "upload_this_session":"3"
}"""


def setup(minutes: int = 60):
    clock = ManualClock(NOW)
    gateway = RecordingGateway(clock)
    recorder = MemoryRecorder()
    monitor = SessionMonitor(
        gateway, recorder, secret=SECRET, clock=clock, session_minutes=lambda: minutes
    )
    return clock, gateway, recorder, monitor


def online(gateway: RecordingGateway, mac: str = "02:00:00:00:00:09") -> Visitor:
    visitor = Visitor(mac=mac, ip="10.77.1.9", token="abcd", origin_url="", level=1)
    gateway.admit(visitor.mac, visitor.ip, visitor.token)
    gateway.authorise(visitor.fas_client(), "http://neverssl.com/")
    return visitor


def test_ndsctl_json_single_client_and_list():
    [one] = parse_ndsctl_json(NDSCTL_ONE)
    assert one.authenticated and one.token == "2a85c9c9"
    assert (one.bytes_in, one.bytes_out) == (12 * 1024, 3 * 1024)
    assert one.ends_at is None and one.started_at is not None
    listing = parse_ndsctl_json('{"client_list_length":"1","clients":{"x":' + NDSCTL_ONE + "}}")
    assert listing == [one]
    assert parse_ndsctl_json("{}") == []


def test_session_ending_at_the_gateway_is_reported_with_duration_and_bytes():
    clock, gateway, recorder, monitor = setup()
    visitor = online(gateway)
    monitor.poll()
    clock.advance(minutes=25)
    gateway.add_traffic(visitor.mac, 5000, 700)
    monitor.poll()
    gateway.deauthorise(visitor.mac)
    monitor.poll()
    [ended] = recorder.of(SessionEndedData)
    assert ended.duration_s == 25 * 60 and ended.reason == "ended"
    assert (ended.bytes_in, ended.bytes_out) == (5000, 700)
    assert ended.client_hash == client_hash(SECRET, visitor.mac, NOW)


def test_session_limit_deauthorises_at_the_limit_not_before():
    clock, gateway, recorder, monitor = setup(minutes=60)
    visitor = online(gateway)
    monitor.poll()
    clock.advance(minutes=59, seconds=59)
    monitor.poll()
    assert gateway.session_for_ip(visitor.ip) is not None
    clock.advance(seconds=1)
    monitor.poll()
    assert gateway.session_for_ip(visitor.ip) is None
    assert [e.reason for e in recorder.of(SessionEndedData)] == ["expired"]


def test_session_across_utc_midnight_keeps_the_start_days_hash():
    clock, gateway, recorder, monitor = setup(minutes=600)
    clock.set(NOW.replace(hour=23, minute=30))
    visitor = online(gateway)
    monitor.poll()
    start = clock.now()
    clock.advance(hours=1)
    gateway.deauthorise(visitor.mac)
    monitor.poll()
    [ended] = recorder.of(SessionEndedData)
    assert ended.client_hash == client_hash(SECRET, visitor.mac, start)
    assert ended.client_hash != client_hash(SECRET, visitor.mac, clock.now())


def test_deauthorise_by_client_hash_or_token():
    clock, gateway, recorder, monitor = setup()
    first = online(gateway, "02:00:00:00:00:01")
    second = online(gateway, "02:00:00:00:00:02")
    assert monitor.deauthorise(client_hash(SECRET, first.mac, clock.now()))
    assert not monitor.deauthorise("0" * 32)
    assert monitor.deauthorise(second.token)
    assert gateway.sessions() == []
    assert len(recorder.of(SessionEndedData)) == 2
