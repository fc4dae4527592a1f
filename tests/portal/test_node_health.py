"""A portal node's Wi-Fi figures for IT's fleet view (issue 16), from what the session
monitor sees and what the workers relay."""

from __future__ import annotations

from portal.gateway import GatewaySession
from portal.node_health import MB, PortalFigures, Quota


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def session(mac: str, bytes_in: int = 0, authenticated: bool = True) -> GatewaySession:
    return GatewaySession(mac=mac, ip="10.0.0.2", authenticated=authenticated, bytes_in=bytes_in)


def test_figures_count_since_the_previous_sample_and_start_again():
    ticks = Ticks()
    figures = PortalFigures(ticks)
    for _ in range(3):
        figures.authorised()
    figures.failed()
    figures.observe([session("a"), session("b"), session("c", authenticated=False)], Quota())
    ticks.now += 60
    first = figures.sample()
    assert (first.visitors_online, first.authorisations, first.failures) == (2, 3, 1)
    assert first.window_s == 60
    ticks.now += 30
    second = figures.sample()
    assert (second.visitors_online, second.authorisations, second.failures) == (2, 0, 0)
    assert second.window_s == 30


def test_a_session_that_uses_up_its_quota_counts_once():
    figures = PortalFigures(Ticks())
    quota = Quota(download_bytes=100 * MB)
    figures.observe([session("a", 99 * MB)], quota)
    figures.observe([session("a", 100 * MB), session("b", 5)], quota)
    figures.observe([session("a", 101 * MB), session("b", 5)], quota)  # still over: once
    assert figures.sample().quota_hits == 1
    figures.observe([session("b", 5)], quota)  # a's session ended
    figures.observe([session("a", 100 * MB)], quota)  # a new session of a, over again
    assert figures.sample().quota_hits == 1
    figures.observe([session("c", 10**12)], Quota())  # no quota, no hits
    assert figures.sample().quota_hits == 0
