"""Issue 16 against the real openNDS 9.10 in network namespaces: IT sets a site's Wi-Fi
policy in the CMS, the signed manifest goes through Mosquitto to the portal node on the
real device agent, and openNDS enforces it on a real client namespace (the phone):

- outside service hours the phone gets the closed page;
- the walled-garden host answers before the phone accepts, other hosts do not;
- once online, openNDS holds the phone to the policy's download rate (a transfer far
  above the limit without it, near it with it) and ends the session at its length.
"""

from __future__ import annotations

import html as html_lib
import re
import subprocess
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from central_cms import models as m
from central_cms.publisher import MqttPublisher
from devices.agent import DeviceAgent, RecordingSystem
from devices.clock import ManualClock
from devices.config import load_device_config
from devices.protocol import DeviceKind
from portal.ndsctl import NdsctlSocket
from portal.node import PortalApplication, portal_config_of
from portal.opennds import OpenNDSGateway
from testkit.brokers import free_port
from testkit.city import add_screen, add_site, make_world
from testkit.harness import eventually, write_device_config
from testkit.opennds import SCRIPT, opennds_log_tail
from testkit.staff import login, make_user
from tests.portal.opennds_harness import (
    Download,
    Harness,
    download_timeline,
    median_kbps,
    mtu_sized_frames,
    opennds,
    skip_unless_possible,
)

FASKEY = "wifi-policy-netns-key"
SITE, DEVICE = "wifi-lab", "portal-wifi-lab"
GARDEN_IP = "10.77.2.3"  # a second address of the upstream namespace: the booking site
LIMIT_KBPS = 2000
CLOSED = "The free Wi-Fi is closed right now"
ACCEPT_BOX = 'name="accept"'


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cms.sqlite3'}"  # one database: the journey is slow


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.now(UTC))  # the node's web workers run on the real clock


@pytest.fixture
def publisher(broker) -> Iterator[MqttPublisher]:
    real = MqttPublisher([f"mqtt://127.0.0.1:{broker.port}"], client_id="cms-wifi-test")
    yield real
    real.stop()


@dataclass
class Lab:
    harness: Harness
    app: PortalApplication
    client: object  # the CMS's Flask test client, signed in as IT
    csrf: str

    def set_policy(self, **fields: str) -> None:
        form = {"csrf_token": self.csrf, "session_minutes": "240", **fields}
        answer = self.client.post(f"/sites/{SITE}/wifi", data=form)  # type: ignore[attr-defined]
        assert answer.status_code == 302, answer.text

    def fas_page(self) -> tuple[str, str]:
        """(FAS URL, page) the phone is sent to when it opens a website. On a loaded
        machine one request now and then gets no answer within curl's 8 s: the phone
        opens the website again, as a person would."""
        sent_to: list[str] = []
        answers: list[int] = []

        def captured() -> bool:
            status, fas_url, _ = self.harness.first_contact(self.harness.env["UPSTREAM_URL"])
            sent_to.append(fas_url)
            answers.append(status)
            return status == 307

        # Once in a CI run openNDS did not capture for 30 s right after a policy change;
        # what it answered meanwhile is in the message, with the end of its log.
        assert eventually(captured, timeout_s=60), (
            f"openNDS never sent the phone to the splash; it answered {answers}",
            opennds_log_tail(self.harness.env, 12),
        )
        return sent_to[-1], self.harness.curl(sent_to[-1])[2]

    def splash_shows(self, text: str) -> bool:
        return text in self.fas_page()[1]


def closed_now(timezone: str = "Australia/Perth") -> dict[str, str]:
    """Service hours every day that do not include this moment (3 to 4 hours from now)."""
    later = datetime.now(ZoneInfo(timezone)) + timedelta(hours=3)
    opens, closes = later.strftime("%H:00"), (later + timedelta(hours=1)).strftime("%H:00")
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    return {
        "hours_limited": "on",
        **{f"opens_{d}": opens for d in days},
        **{f"closes_{d}": closes for d in days},
    }


@pytest.fixture
def lab(tmp_path, broker, session, rt, client) -> Iterator[Lab]:
    skip_unless_possible(1)
    make_world(session, rt)
    add_site(session, rt, SITE, name="Wi-Fi Lab")
    add_screen(session, rt, DEVICE, SITE, "splash", kind=DeviceKind.PORTAL)
    site = session.get(m.Site, SITE)
    site.portal_settings = {
        "ssid": "City Free WiFi",
        "terms": {"version": "2026-1", "text": {"en": "Be kind."}},
    }
    session.commit()
    make_user(session, rt, "it-person", m.Role.IT)
    csrf = login(client, "it-person")

    web_port = free_port()
    with opennds(1, web_port, FASKEY) as harness:
        garden = start_garden_site(harness, tmp_path)
        path = write_device_config(
            tmp_path,
            DEVICE,
            port=broker.port,
            keys=[rt.signing_key],
            kind=DeviceKind.PORTAL,
            extra=(
                "[intervals]\nhealth_s = 3600\noutbox_resend_s = 2\n"
                "[budgets]\ncache_mb = 64\noutbox_mb = 8\n[portal]\n"
                f'secret = "{"7" * 64}"\nfaskey = "{FASKEY}"\ngateway = "opennds"\n'
                f'fas_level = 1\nlisten = "127.0.0.1:{web_port}"\nworkers = 1\nthreads = 8\n'
                # The phone reaches the portal where openNDS's FAS settings say; the accept
                # sends it back there, to the "you are online" page.
                f'public_url = "{fas_origin(harness)}"\n'
                f'gateway_addresses = ["{harness.env["GW_ADDRESS"]}"]\n'
                f'ndsctl_socket = "{harness.ndsctl_socket}"\n'
                f"firewall_command = {list(harness.in_gw)!r}\n".replace("'", '"')
                + "session_poll_s = 2\npin_workers = false\n"
                "rate_per_s = 1000.0\nrate_burst = 1000\n"
            ),
        )
        config = load_device_config(path)
        app = PortalApplication(config, portal_config_of(config), config_path=path)
        agent = DeviceAgent(
            config, app, clock=ManualClock(datetime.now(UTC)), system=RecordingSystem()
        )
        agent.start()
        try:
            yield Lab(harness, app, client, csrf)
        finally:
            agent.stop()
            garden.terminate()  # by PID: the server we started in the upstream namespace
            garden.wait(timeout=10)


def fas_origin(harness: Harness) -> str:
    fas = urllib.parse.urlsplit(harness.env["FAS_URL"])
    return f"{fas.scheme}://{fas.netloc}/"


def start_garden_site(harness: Harness, tmp_path: Path) -> subprocess.Popen[bytes]:
    root = tmp_path / "garden"
    root.mkdir()
    (root / "index.html").write_text("GARDEN-OK\n")
    run = harness.run_id
    subprocess.run(
        [
            str(SCRIPT),
            "--id",
            run,
            "exec",
            "up",
            "ip",
            "addr",
            "add",
            f"{GARDEN_IP}/24",
            "dev",
            "eth0",
        ],
        check=True,
        capture_output=True,
    )
    server = subprocess.Popen(
        [
            str(SCRIPT),
            "--id",
            run,
            "exec",
            "up",
            "python3",
            "-m",
            "http.server",
            "80",
            "--bind",
            GARDEN_IP,
            "--directory",
            str(root),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    up = harness.env["UP_NS"]
    probe = ["ip", "netns", "exec", up, "curl", "-s", "-m", "1", f"http://{GARDEN_IP}/"]
    assert eventually(
        lambda: subprocess.run(probe, capture_output=True, text=True).stdout == "GARDEN-OK\n",
        timeout_s=10,
    )
    return server


def accept(lab: Lab) -> None:
    """The phone taps Accept on the splash, lands on the portal's "you are online" page
    and follows its link on to where it was going."""
    upstream = lab.harness.env["UPSTREAM_URL"]
    fas_url, page = lab.fas_page()
    form = {
        name: html_lib.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page)
    }
    form["accept"] = "yes"
    args = [arg for key, value in form.items() for arg in ("--data-urlencode", f"{key}={value}")]
    status, online, _ = lab.harness.curl(*args, urllib.parse.urljoin(fas_url, "/accept"))
    assert status == 303 and urllib.parse.urlsplit(online).path == "/online", online
    status, _, page = lab.harness.curl(online)
    assert status == 200 and f'<a class="button" href="{upstream}">' in page, page[:500]
    assert lab.harness.curl(upstream)[0] == 200


def download(harness: Harness, seconds: int) -> Download:
    return download_timeline(harness, harness.env["UPSTREAM_URL"] + "big.bin", seconds)


def test_a_cms_policy_is_enforced_by_openndss_on_a_real_phone(lab: Lab):
    harness = lab.harness
    (Path(harness.env["RUN_DIR"]) / "www" / "big.bin").write_bytes(bytes(128 * 1024 * 1024))
    mtu_sized_frames(harness)
    limited = {"session_minutes": "1", "download_mbps": str(LIMIT_KBPS / 1000)}

    assert harness.first_contact(f"http://{GARDEN_IP}/")[0] == 307  # no walled garden yet

    # 1. Outside service hours: the closed page, and the walled garden answers anyway.
    lab.set_policy(**limited, **closed_now(), walled_garden=GARDEN_IP)
    assert eventually(lambda: lab.splash_shows(CLOSED), timeout_s=30)
    assert harness.curl(f"http://{GARDEN_IP}/")[:3:2] == (200, "GARDEN-OK\n")
    assert harness.curl(harness.env["UPSTREAM_URL"])[0] == 307  # captured to the portal
    assert harness.curl("http://" + harness.env["UP_IP"] + ":8081/")[0] == 0  # refused

    # 2. Open: the phone accepts and openNDS got the policy's limits with it.
    lab.set_policy(**limited)
    assert eventually(lambda: lab.splash_shows(ACCEPT_BOX), timeout_s=30)
    accepted_at = datetime.now(UTC)
    accept(lab)
    gateway = OpenNDSGateway(NdsctlSocket(harness.ndsctl_socket))
    [session] = [s for s in gateway.sessions() if s.authenticated]
    assert session.ends_at is not None and session.started_at is not None
    assert (session.ends_at - session.started_at) == timedelta(minutes=1)
    slow = median_kbps(download(harness, 12).marks)  # the rate the limit holds

    # 3. openNDS itself ends the session after its length (the node's clock stands still).
    assert eventually(
        lambda: harness.curl(harness.env["UPSTREAM_URL"])[0] == 307, timeout_s=100, every_s=1
    )
    assert datetime.now(UTC) - accepted_at >= timedelta(seconds=55)

    # 4. Without the rate limit the same download runs far above it.
    lab.set_policy(**closed_now())
    assert eventually(lambda: lab.splash_shows(CLOSED), timeout_s=30)
    lab.set_policy()
    assert eventually(lambda: lab.splash_shows(ACCEPT_BOX), timeout_s=30)
    accept(lab)
    # Unthrottled, the whole file may come within a second: the download's mean rate.
    fast = download(harness, 4).mean_kbps
    print(f"limit_kbps={LIMIT_KBPS} limited_kbps={slow:.0f} unlimited_kbps={fast:.0f}")
    assert fast > 20 * LIMIT_KBPS
    assert slow < 1.5 * LIMIT_KBPS


def test_a_returning_phone_goes_straight_online_through_openndss(lab: Lab):
    """Splash frequency on the real openNDS: the phone accepts, openNDS ends its session,
    and when it opens a website again openNDS sends it to the splash, which lets it
    straight online (authorised through the control socket) with "Welcome back"."""
    harness = lab.harness
    upstream = harness.env["UPSTREAM_URL"]
    lab.set_policy(splash_every_days="7")
    assert eventually(lambda: lab.splash_shows(ACCEPT_BOX), timeout_s=30)
    accept(lab)
    gateway = OpenNDSGateway(NdsctlSocket(harness.ndsctl_socket))
    [session] = [s for s in gateway.sessions() if s.authenticated]
    assert gateway.deauthorise(session.mac)
    assert eventually(lambda: harness.curl(upstream)[0] == 307, timeout_s=30)  # held again

    status, fas_url, _ = harness.curl(upstream)
    assert status == 307
    status, online, page = harness.curl(fas_url)
    assert status == 303 and ACCEPT_BOX not in page, (status, page[:300])
    assert urllib.parse.urlsplit(online).path == "/online" and "back=1" in online
    status, _, page = harness.curl(online)
    assert status == 200 and "Welcome back, you are online" in page
    assert f'<a class="button" href="{upstream}">' in page
    assert harness.curl(upstream)[0] == 200  # online, without having seen the terms
    [again] = [s for s in gateway.sessions() if s.authenticated]
    assert again.mac == session.mac and again.token != session.token
