"""The site's Wi-Fi policy on the portal (issue 16): service hours close the portal with a
clear page in every language, each visitor is authorised with the policy's limits, a busy
gateway asks the visitor to tap again, and the wait is reported with the accept."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from devices.protocol import SessionEndedData, TermsAcceptedData, WifiPolicy
from devices.protocol.schedules import Weekday
from portal.admission import LOOKUP, Admission, GatewayBusy, GatewayError
from portal.fas import FasClient
from portal.i18n import translations
from portal.sessions import SessionMonitor
from portal.sources import MemoryRecorder
from portal.wifi_policy import ClientLimits, client_limits, in_service, ndsctl_auth
from testkit.portal import NOW, form_of, make_portal, portal_manifest

PERTH = "Australia/Perth"  # NOW is Tuesday 10:00 there


def with_policy(**fields: object):
    base = portal_manifest()
    assert base.portal is not None
    portal = base.portal.model_copy(update={"wifi": WifiPolicy.model_validate(fields)})
    return base.model_copy(update={"portal": portal})


def hours(day: Weekday, opens: str, closes: str) -> dict[str, str]:
    return {"day": day.value, "opens": opens, "closes": closes}


# --- service hours -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("window", "local", "open_"),
    [
        (hours(Weekday.TUE, "09:00", "17:00"), datetime(2026, 11, 24, 10, 0), True),
        (hours(Weekday.TUE, "09:00", "17:00"), datetime(2026, 11, 24, 17, 0), False),
        (hours(Weekday.MON, "09:00", "17:00"), datetime(2026, 11, 24, 10, 0), False),
        # Monday 22:00-02:00 belongs to Monday and is still open at 01:00 on Tuesday.
        (hours(Weekday.MON, "22:00", "02:00"), datetime(2026, 11, 24, 1, 0), True),
        (hours(Weekday.TUE, "22:00", "02:00"), datetime(2026, 11, 24, 1, 0), False),
    ],
)
def test_service_hours_follow_the_sites_wall_clock(window, local, open_):
    policy = WifiPolicy.model_validate({"service_hours": [window]})
    at = local.replace(tzinfo=ZoneInfo(PERTH)).astimezone(UTC)
    assert in_service(policy, PERTH, at) is open_


def test_no_service_hours_means_always_open():
    assert in_service(None, PERTH, NOW) and in_service(WifiPolicy(), PERTH, NOW)


@pytest.mark.parametrize("lang", ["en", "zh", "vi", "ar", "it"])
def test_outside_service_hours_the_closed_page_in_every_language(tmp_path, lang):
    manifest = with_policy(service_hours=[hours(Weekday.WED, "09:00", "17:00")])
    portal = make_portal(tmp_path, manifest=manifest)
    visitor = portal.visitor()
    page = portal.client.get(visitor.splash_url(lang=lang), environ_base=visitor.environ)
    heading = translations(lang).gettext("The free Wi-Fi is closed right now")
    assert lang == "en" or heading != "The free Wi-Fi is closed right now"
    body = page.get_data(as_text=True)
    assert heading in body and 'name="accept"' not in body


def test_a_form_sent_after_closing_lets_nobody_online(tmp_path):
    portal = make_portal(tmp_path)
    visitor = portal.visitor()
    html = portal.client.get(visitor.splash_url(), environ_base=visitor.environ).text
    portal.source.set(with_policy(service_hours=[hours(Weekday.WED, "09:00", "17:00")]))
    done = portal.client.post(
        "/accept", data={**form_of(html), "accept": "yes"}, environ_base=visitor.environ
    )
    assert "closed right now" in done.text and portal.gateway.decisions == []


# --- limits at authorisation -----------------------------------------------------------------


def test_each_visitor_is_authorised_with_the_policys_limits_and_the_wait_is_reported(tmp_path):
    manifest = with_policy(download_kbps=2000, upload_kbps=500, download_quota_mb=100)
    portal = make_portal(tmp_path, manifest=manifest)
    visitor = portal.visitor()
    html = portal.client.get(visitor.splash_url(), environ_base=visitor.environ).text
    done = portal.client.post(
        "/accept", data={**form_of(html), "accept": "yes"}, environ_base=visitor.environ
    )
    assert done.status_code == 303
    [decision] = portal.gateway.decisions
    assert decision.limits == ClientLimits(
        session_minutes=240, upload_kbps=500, download_kbps=2000, download_quota_kb=102400
    )
    [accepted] = portal.recorder.of(TermsAcceptedData)
    assert accepted.authorise_wait_s is not None and accepted.authorise_wait_s >= 0


def test_the_ndsctl_auth_request_leaves_unset_limits_to_opennds():
    limits = client_limits(with_policy(download_kbps=2000).portal)
    assert ndsctl_auth("10.77.1.9", limits) == "auth 10.77.1.9,240,,2000,,,"
    with pytest.raises(ValueError):
        ndsctl_auth("10.77.1.9,1", limits)


class BusyGateway:
    """The recording gateway's answers, except that authorising says "busy"."""

    def __init__(self, inner) -> None:
        self._inner = inner

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def authorise(self, client, redirect_url, limits=None):
        raise GatewayBusy("256 visitors already waiting for openNDS")


def test_a_busy_gateway_gives_the_form_back_to_tap_again(tmp_path):
    portal = make_portal(tmp_path, wrap_gateway=BusyGateway)
    visitor = portal.visitor()
    html = portal.client.get(visitor.splash_url(), environ_base=visitor.environ).text
    done = portal.client.post(
        "/accept", data={**form_of(html), "accept": "yes"}, environ_base=visitor.environ
    )
    assert done.status_code == 503
    assert "Many people are joining right now" in done.text
    again = portal.client.post(
        "/accept", data={**form_of(done.text), "accept": "yes"}, environ_base=visitor.environ
    )
    assert again.status_code == 503  # a fresh form each time, never "already sent"
    assert portal.recorder.of(TermsAcceptedData) == []


# --- the admission queue ----------------------------------------------------------------------


class SlowOpenNDS:
    """Stands in for openNDS's control socket: one request at a time, each held until
    the test lets it go, counting what it was asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.release = threading.Event()
        self.inside = threading.Event()
        self._one = threading.Lock()

    def __call__(self, request: str) -> str:
        if not self._one.acquire(blocking=False):
            raise AssertionError("two control requests at once")
        try:
            self.asked.append(request)
            self.inside.set()
            self.release.wait(10)
            return "Yes" if request.startswith("auth") else "openNDS Status\n"
        finally:
            self._one.release()


def test_waiting_lookups_share_one_request_and_auths_never_overlap():
    control = SlowOpenNDS()
    admission = Admission(control)
    first = threading.Thread(target=admission.lookup)
    first.start()
    assert control.inside.wait(5)
    answers: list[str] = []
    waiting = [
        threading.Thread(target=lambda: answers.append(admission.lookup())) for _ in range(20)
    ]
    auths = [
        threading.Thread(target=admission.authorise, args=(f"auth 10.0.0.{i},,,,,,",))
        for i in range(5)
    ]
    for thread in (*waiting, *auths):
        thread.start()
    while admission.waiting < 25:
        threading.Event().wait(0.01)
    control.release.set()
    for thread in (first, *waiting, *auths):
        thread.join(10)
    assert control.asked.count(LOOKUP) == 2  # the first, then one for the twenty
    assert len(answers) == 20 and sum(r.startswith("auth") for r in control.asked) == 5


def test_a_full_queue_refuses_at_once_and_a_long_wait_is_bounded():
    control = SlowOpenNDS()
    admission = Admission(control, max_waiting=2, max_wait_s=0.5)
    with pytest.raises(GatewayBusy, match=r"did not answer within 0\.5 s"):
        admission.authorise("auth 10.0.0.1,,,,,,")  # still held inside openNDS
    served: list[str] = []
    threads = [threading.Thread(target=lambda: served.append(admission.lookup())) for _ in range(2)]
    for thread in threads:
        thread.start()
    while admission.waiting < 2:
        threading.Event().wait(0.01)
    with pytest.raises(GatewayBusy, match="2 visitors already waiting"):
        admission.lookup()
    control.release.set()
    for thread in threads:
        thread.join(10)
    assert len(served) == 2  # those let in are answered once openNDS is free


def test_a_refusal_reaches_only_the_visitor_it_was_for():
    def control(request: str) -> str:
        if "10.0.0.1" in request:
            raise GatewayError("refused")
        return "Yes"

    admission = Admission(control)
    with pytest.raises(GatewayError, match="refused"):
        admission.authorise("auth 10.0.0.1,,,,,,")
    assert admission.authorise("auth 10.0.0.2,,,,,,") == "Yes"


# --- idle timeout -------------------------------------------------------------------------------


def test_a_session_without_traffic_for_the_idle_timeout_ends_as_idle(tmp_path):
    portal = make_portal(tmp_path)
    recorder = MemoryRecorder()
    monitor = SessionMonitor(
        portal.gateway,
        recorder,
        secret=b"s" * 40,
        clock=portal.clock,
        session_minutes=lambda: 240,
        idle_minutes=lambda: 10,
    )
    visitor = portal.visitor()
    client: FasClient = visitor.fas_client()
    portal.gateway.authorise(client, "http://neverssl.com/")
    monitor.poll()
    portal.clock.advance(minutes=8)
    portal.gateway.add_traffic(visitor.mac, 1000, 100)
    monitor.poll()  # traffic: the idle clock starts again
    portal.clock.advance(minutes=9)
    monitor.poll()
    assert recorder.of(SessionEndedData) == []
    portal.clock.advance(minutes=1)
    monitor.poll()
    [ended] = recorder.of(SessionEndedData)
    assert ended.reason == "idle" and ended.duration_s == 18 * 60
    assert portal.gateway.session_for_ip(visitor.ip) is None
