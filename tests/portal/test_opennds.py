"""Against the real openNDS 9.10 in network namespaces, at FAS levels 1 and 2: a phone is
intercepted, sent to the portal with the FAS parameters, accepts, reaches the upstream
page, shows in `ndsctl status`, and is blocked again by the CMS's deauthorise command and by
the session limit."""

from __future__ import annotations

import dataclasses
import html as html_lib
import re
import secrets
import threading
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from werkzeug.serving import BaseWSGIServer, make_server

from devices.clock import ManualClock
from devices.protocol import SessionEndedData, SplashShownData, TermsAcceptedData
from portal.app import create_app
from portal.fas import encode_query, hid_for_token, parse_query
from portal.ndsctl import NdsctlSocket
from portal.opennds import OpenNDSGateway
from portal.privacy import client_hash
from portal.sessions import SessionMonitor
from portal.sources import MemoryRecorder, MemorySource
from portal.splash import Splash
from testkit.brokers import free_port
from testkit.portal import DirAssets, portal_config, portal_manifest
from tests.portal.opennds_harness import Harness, opennds, skip_unless_possible

FASKEY = "portal-netns-key"
UPSTREAM_OK = "DSNDS-UPSTREAM-OK"


class RunningPortal:
    def __init__(self, tmp_path: Path, level: int) -> None:
        self.clock = ManualClock(datetime.now(UTC))
        self.recorder = MemoryRecorder()
        self.config = portal_config(fas_level=level, faskey=FASKEY)
        self.gateway: OpenNDSGateway | None = None
        self.tmp_path = tmp_path
        self.server: BaseWSGIServer | None = None

    def start(self, harness: Harness, port: int) -> None:
        # The phone reaches the portal where openNDS's FAS settings say; the accept sends
        # it back there, to the portal's "you are online" page (issue 16).
        fas = urllib.parse.urlsplit(harness.env["FAS_URL"])
        self.config = dataclasses.replace(self.config, public_url=f"{fas.scheme}://{fas.netloc}/")
        self.gateway = OpenNDSGateway(NdsctlSocket(harness.ndsctl_socket), cache_s=0)
        app = create_app(
            Splash(
                self.config,
                gateway=self.gateway,
                manifest_source=MemorySource(portal_manifest()),
                recorder=self.recorder,
                clock=self.clock,
                assets=DirAssets(self.tmp_path),
            )
        )
        self.server = make_server("127.0.0.1", port, app, threaded=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()


@pytest.fixture(params=[1, 2], ids=["fas-level-1", "fas-level-2"])
def netns(request, tmp_path) -> Iterator[tuple[Harness, RunningPortal]]:
    level = request.param
    skip_unless_possible(level)
    port = free_port()
    portal = RunningPortal(tmp_path, level)
    with opennds(level, port, FASKEY) as harness:
        portal.start(harness, port)
        try:
            yield harness, portal
        finally:
            portal.stop()


def go_online(harness: Harness) -> None:
    upstream = harness.env["UPSTREAM_URL"]
    status, fas_url, _ = harness.first_contact(upstream)  # a phone openNDS may not know yet
    assert status == 307 and fas_url.startswith(harness.env["FAS_URL"]), (status, fas_url)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(fas_url).query)
    assert "fas" in query and (("iv" in query) == (harness.env["FAS_SECURE"] == "2"))

    status, _, page = harness.curl(fas_url)
    assert status == 200, page[:500]
    assert "Cannington Leisureplex" in page
    form = {
        name: html_lib.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page)
    }
    form["accept"] = "yes"
    accept_url = urllib.parse.urljoin(fas_url, "/accept")
    args = [arg for key, value in form.items() for arg in ("--data-urlencode", f"{key}={value}")]
    # The node authorises with ndsctl auth (the visitor's limits), then sends the browser
    # to the portal's "you are online" page: feedback, and a link on to where it was going.
    status, online, _ = harness.curl(*args, accept_url)
    assert status == 303
    assert online.startswith(urllib.parse.urljoin(harness.env["FAS_URL"], "/online?")), online
    status, _, page = harness.curl(online)
    assert status == 200 and f'<a class="button" href="{upstream}">' in page, page[:500]
    status, _, body = harness.curl(upstream)
    assert status == 200 and body.startswith(UPSTREAM_OK)


def test_visitor_is_intercepted_accepts_and_reaches_upstream(netns):
    harness, portal = netns
    assert harness.first_contact(harness.env["UPSTREAM_URL"])[0] == 307  # captive before

    go_online(harness)

    assert portal.gateway is not None
    [session] = portal.gateway.sessions()
    assert session.authenticated and session.ip == harness.env["CLIENT_IP"]
    assert session.mac == harness.env["CLIENT_MAC"]
    assert len(portal.recorder.of(SplashShownData)) == 1
    [accepted] = portal.recorder.of(TermsAcceptedData)
    assert accepted.client_hash == client_hash(
        portal.config.secret, harness.env["CLIENT_MAC"], portal.clock.now()
    )


def test_deauthorise_command_and_session_limit_block_the_visitor_again(netns):
    harness, portal = netns
    assert portal.gateway is not None
    monitor = SessionMonitor(
        portal.gateway,
        portal.recorder,
        secret=portal.config.secret,
        clock=portal.clock,
        session_minutes=lambda: 240,
    )
    upstream = harness.env["UPSTREAM_URL"]

    go_online(harness)
    monitor.poll()
    reference = client_hash(portal.config.secret, harness.env["CLIENT_MAC"], portal.clock.now())
    portal.clock.advance(minutes=3)
    assert monitor.deauthorise(reference)
    assert harness.first_contact(upstream)[0] == 307  # openNDS forgot the phone at deauth
    assert not any(s.authenticated for s in portal.gateway.sessions())
    [ended] = portal.recorder.of(SessionEndedData)
    assert ended.reason == "deauthorised" and ended.duration_s == pytest.approx(180)

    go_online(harness)
    monitor.poll()
    portal.clock.advance(minutes=239)
    monitor.poll()
    assert harness.curl(upstream)[0] == 200  # still inside the limit
    portal.clock.advance(minutes=1)
    monitor.poll()
    assert harness.first_contact(upstream)[0] == 307  # forgotten again
    expired = portal.recorder.of(SessionEndedData)[-1]
    assert expired.reason == "expired" and expired.duration_s == pytest.approx(240 * 60)
    assert expired.bytes_in is not None


def test_a_crafted_query_for_the_real_client_is_refused_at_accept(netns):
    """Someone who crafts ?fas= for this phone (trivial at level 1) with their own origin
    does not know the phone's token, so the hid does not match what openNDS reports."""
    harness, _ = netns
    level = int(harness.env["FAS_SECURE"])
    status, fas_url, _ = harness.first_contact(harness.env["UPSTREAM_URL"])
    assert status == 307
    real = parse_query(
        {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(fas_url).query).items()},
        level=level,
        faskey=FASKEY,
    )
    forged = dataclasses.replace(
        real, hid=hid_for_token(secrets.token_hex(4)), origin_url="http://evil.example/"
    )
    query = encode_query(forged, level=level, faskey=FASKEY, iv=secrets.token_hex(8))
    crafted = harness.env["FAS_URL"] + "?" + urllib.parse.urlencode(query)
    status, _, page = harness.curl(crafted)
    assert status == 200
    form = {
        name: html_lib.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page)
    }
    args = [
        arg
        for k, v in {**form, "accept": "yes"}.items()
        for arg in ("--data-urlencode", f"{k}={v}")
    ]
    status, location, _ = harness.curl(*args, harness.env["FAS_URL"] + "accept")
    assert status == 400 and location == ""
    assert harness.curl(harness.env["UPSTREAM_URL"])[0] == 307
