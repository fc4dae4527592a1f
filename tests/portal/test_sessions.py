"""Session analytics and limits on the recording gateway; reading ``ndsctl status``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from devices.clock import ManualClock
from devices.protocol import SessionEndedData
from portal.fas import FasClient, hid_for_token
from portal.gateway import GatewayError, RecordingGateway, parse_ndsctl_status
from portal.opennds import OpenNDSGateway
from portal.privacy import client_hash
from portal.sessions import SessionMonitor
from portal.sources import MemoryRecorder
from portal.wifi_policy import ClientLimits
from testkit.portal import NOW, Visitor

SECRET = b"s" * 40
# What openNDS 9.10 answered in the harness: one visitor online with limits, one waiting.
STATUS = (Path(__file__).parent / "data" / "ndsctl_status_9_10.txt").read_text()


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


def test_ndsctl_status_gives_every_client_with_its_token_state_times_and_traffic():
    online, waiting = parse_ndsctl_status(STATUS, NOW)
    assert (online.ip, online.mac, online.token) == ("10.77.1.10", "aa:0e:b7:3f:76:14", "67351e95")
    assert online.authenticated and not waiting.authenticated
    assert online.started_at == online.last_active == NOW - timedelta(seconds=2)
    assert online.ends_at == NOW + timedelta(hours=1, minutes=29, seconds=58)
    assert (online.bytes_in, online.bytes_out) == (0, 0)
    assert (waiting.token, waiting.started_at, waiting.ends_at) == ("c7523635", None, None)


def test_ndsctl_status_reads_days_overdue_ends_and_kilobytes():
    text = STATUS.replace(
        "(2s ago)\n  Session End:   Thu Dec 03 11:55:16 2026 (1h 29m 58s left)",
        "(2d 3h 0m 5s ago)\n  Session End:   Thu Dec 03 11:55:16 2026 (-1m 4s left)",
    )
    text = text.replace(
        "Download this session: 0 kB; Session average: 2.14",
        "Download this session: 12 kB; Session average: 2.14",
    )
    online, _ = parse_ndsctl_status(text, NOW)
    assert online.started_at == NOW - timedelta(days=2, hours=3, seconds=5)
    assert online.ends_at == NOW - timedelta(minutes=1, seconds=4)
    assert online.bytes_in == 12 * 1024


def test_ndsctl_status_without_clients_and_a_garbled_answer():
    empty = STATUS[: STATUS.index("Client authentications")] + "Current clients: 0\n====\n"
    assert parse_ndsctl_status(empty, NOW) == []
    with pytest.raises(GatewayError, match="no status"):
        parse_ndsctl_status('{"clients":{}}', NOW)


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


class StatusOnlyOpenNDS:
    """openNDS's control socket as far as the gateway uses it: `status` answers the
    captured 9.10 client list; `auth` and `deauth` say Yes to a known token only, as
    openNDS compares an 8-character name with each client's token."""

    TOKENS = ("67351e95", "c7523635")

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.status = STATUS

    def __call__(self, request: str) -> str:
        self.asked.append(request)
        if request == "status":
            return self.status
        name = request.split(" ", 1)[1].split(",", 1)[0]
        return "Yes" if name in self.TOKENS else "No"


def test_the_gateway_names_a_verified_visitor_to_opennds_by_token_never_by_address():
    control = StatusOnlyOpenNDS()
    gateway = OpenNDSGateway(control, wall_clock=lambda: NOW)
    waiting = FasClient(
        hid=hid_for_token("c7523635"),
        client_ip="10.77.1.11",
        client_mac="d2:d7:e8:14:67:b5",
        gateway_address="10.77.1.1:2050",
        gateway_name="dsnds",
        origin_url="",
    )
    assert gateway.verify(waiting)
    gateway.authorise(waiting, "http://portal/online", ClientLimits(session_minutes=90))
    # One look-up verified the visitor and gave its token to the auth.
    assert control.asked == ["status", "auth c7523635,90,,,,,"]
    assert gateway.deauthorise("D2:D7:E8:14:67:B5")
    assert control.asked[-1] == "deauth c7523635"
    impostor = FasClient(**{**waiting.__dict__, "hid": hid_for_token("67351e95")})
    assert not gateway.verify(impostor)
    with pytest.raises(GatewayError, match="does not know"):
        gateway.authorise(impostor, "http://portal/online")


def test_a_deauthorise_after_opennds_gave_the_phone_a_new_token_uses_the_new_one():
    control = StatusOnlyOpenNDS()
    gateway = OpenNDSGateway(control, wall_clock=lambda: NOW)
    gateway.sessions()  # the cache now holds the phone under its old token
    renewed = STATUS.replace("67351e95", "0badf00d")
    control.TOKENS = ("0badf00d", "c7523635")
    control.status = renewed
    assert gateway.deauthorise("aa:0e:b7:3f:76:14")
    assert [r for r in control.asked if r != "status"] == ["deauth 67351e95", "deauth 0badf00d"]
    assert not gateway.deauthorise("02:00:00:00:00:99")  # a phone openNDS does not know
