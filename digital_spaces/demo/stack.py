"""The whole system on one machine: broker, CMS with its ingest, signage players on the
headless display, and a portal node with the recording gateway. Used by
`digital-spaces demo` and by the end-to-end test."""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path

from flask import Flask
from markupsafe import escape
from werkzeug.serving import BaseWSGIServer, make_server

from central_cms import db, fleet
from central_cms import models as m
from central_cms.app import create_app, manifest_renewer
from central_cms.config import load_config
from central_cms.manifests import sync_manifests
from central_cms.policy import Actor
from central_cms.runtime import parts, runtime
from central_cms.seed import DEMO_PASSWORD, FEED_SITES, TZ, USERS, seed_demo, seed_feeds
from devices.agent import DeviceAgent, RecordingSystem
from devices.clock import SystemClock
from devices.config import load_device_config
from devices.files import create_secret, write_secret
from devices.health import FakePiSensors
from digital_spaces.demo.bookings import booking_server
from digital_spaces.demo.broker import (
    InProcessBroker,
    MosquittoBroker,
    free_port,
    start_demo_broker,
)
from digital_spaces.demo.quiet_http import QuietHandler
from portal.config import parse_portal_config
from portal.fas import FasClient, encode_query
from portal.node import PortalApplication
from signage_player.cli import make_player
from signage_player.display import Display

log = logging.getLogger(__name__)

# The devices the demo runs: screens at five sites, one roadside LED panel, one portal.
# The other seeded devices stay registered and show as offline on the fleet page.
DEMO_PLAYERS = (
    "sig-riverton-lp-foyer-01",
    "sig-riverton-lib-foyer-01",
    "sig-cannington-lp-foyer-01",
    "sig-cannington-lib-foyer-01",
    "sig-bentley-lib-foyer-01",
    "led-albany-hwy-01",
)
DEMO_PORTAL = "portal-cannington-lp-01"
DEMO_VISITOR_MAC = "02:00:00:00:de:01"  # locally administered: not a real NIC


@dataclass(frozen=True)
class DemoOptions:
    data_dir: Path
    fresh: bool = False
    host: str = "127.0.0.1"
    cms_port: int = 8000
    portal_port: int = 8080
    players: tuple[str, ...] = DEMO_PLAYERS
    portal: str | None = DEMO_PORTAL


@dataclass
class RunningDevice:
    device_id: str
    agent: DeviceAgent
    display: Display | None = None


@dataclass
class DemoStack:
    """Everything the demo started, in start order; `stop()` undoes it in reverse."""

    options: DemoOptions
    app: Flask
    broker: MosquittoBroker | InProcessBroker
    cms_server: BaseWSGIServer
    upstream_server: ThreadingHTTPServer
    bookings_server: ThreadingHTTPServer  # the stand-in booking system's timetables
    devices: list[RunningDevice] = field(default_factory=list)
    visitor_url: str = ""

    @property
    def cms_url(self) -> str:
        return f"http://{self.options.host}:{self.cms_server.server_port}"

    def display(self, device_id: str) -> Display:
        for device in self.devices:
            if device.device_id == device_id and device.display is not None:
                return device.display
        raise KeyError(device_id)

    def stop(self) -> None:
        for device in reversed(self.devices):
            try:
                device.agent.stop()
            except Exception:
                log.exception("stopping %s failed", device.device_id)
        self.cms_server.shutdown()
        self.upstream_server.shutdown()
        self.bookings_server.shutdown()
        parts(self.app).stop()  # renewer, in-process ingest, publisher
        self.broker.stop()


def _secrets(path: Path) -> dict[str, str]:
    """Secrets made on the first run and kept in the data folder, so a second run reuses them."""
    if path.exists():
        loaded: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
        return loaded
    values = {
        "cms_mqtt_password": secrets.token_urlsafe(24),
        "portal_secret": secrets.token_hex(32),
        "faskey": secrets.token_hex(16),
    }
    create_secret(path, json.dumps(values).encode("utf-8"))
    return values


def _upstream_server(host: str) -> ThreadingHTTPServer:
    """Stands in for the website a visitor was trying to open when the portal caught them;
    after they accept, the portal sends them back to it."""

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            body = (
                "<!doctype html><html lang=en><meta charset=utf-8>"
                "<meta name=viewport content='width=device-width'>"
                "<title>You are online</title><main><h1>You are online</h1>"
                f"<p>This is the page you opened ({_escape(self.path)}), reached after "
                "accepting the Wi-Fi terms.</p></main></html>"
            ).encode()
            self.send_body(body, "text/html; charset=utf-8")

    return ThreadingHTTPServer((host, 0), Handler)


def _escape(text: str) -> str:
    return str(escape(text))


def start_stack(
    options: DemoOptions, progress: Callable[[str], None] = lambda message: None
) -> DemoStack:
    data = options.data_dir.resolve()
    if options.fresh and data.exists():
        progress(f"removing {data} (--fresh)")
        shutil.rmtree(data)
    data.mkdir(parents=True, exist_ok=True)
    kept = _secrets(data / "secrets.json")
    broker_port = free_port(options.host)
    broker_url = f"mqtt://127.0.0.1:{broker_port}"

    # The stand-in booking system and news site, on a new port each run: the demo's one
    # internal feed host, listed as such (feed_internal_hosts, issue 17), port and all.
    clock = SystemClock()
    bookings = booking_server(options.host, FEED_SITES, TZ, lambda: clock.now().date())
    bookings_url = f"http://{options.host}:{bookings.server_port}"

    progress("CMS database and signing key")
    config = load_config(env={}, instance_path=data / "cms").with_changes(
        database_url=f"sqlite:///{data / 'cms' / 'cms.sqlite3'}",
        public_url=f"http://{options.host}:{options.cms_port}",
        mqtt_brokers=(broker_url,),
        mqtt_username="cms-1",
        mqtt_password=kept["cms_mqtt_password"],
        device_brokers=(broker_url,),
        ingest_in_process=True,  # the ingest runs inside the demo's CMS
        feed_internal_hosts=(f"{options.host}:{bookings.server_port}",),
    )
    app = create_app(config, clock=clock, renewal=False)  # started below, with the broker
    rt = runtime(app)
    session = db.database(app).sessions()
    try:
        if session.query(m.Site).first() is None:
            progress("seeding the demo city: sites, screens, media, campaigns, staff")
            seed_demo(session, rt)
        seed_feeds(session, rt, bookings_url)  # every run: the server's port is new
        progress("device credentials")
        admin = Actor("demo", m.Role.ADMIN)
        configs: dict[str, Path] = {}
        upstream = _upstream_server(options.host)
        for device_id in (*options.players, *([options.portal] if options.portal else [])):
            portal = device_id == options.portal
            extra = (
                "[portal]\n"
                f'secret = "{kept["portal_secret"]}"\n'
                f'faskey = "{kept["faskey"]}"\n'
                f'listen = "{options.host}:{options.portal_port}"\n'
                'gateway = "recording"\n'
                # Visitors' newsletter sign-ups go to the demo CMS's device API.
                f'newsletter_url = "{config.public_url}/device-api/v1/newsletter-signups"\n'
                "workers = 1\nthreads = 8\nsession_poll_s = 5\n"
                if portal
                else '[player]\ndisplay = "headless"\n'
            ) + "[intervals]\nhealth_s = 30\noutbox_resend_s = 5\n"
            registration = fleet.reissue_credentials(
                session,
                rt,
                admin,
                device_id,
                data_dir=str(data / "devices" / device_id),
                extra=extra,
            )
            text = registration.config_toml.replace(
                "[mqtt]\n", "[mqtt]\nconnect_jitter_s = 0.5\n", 1
            )
            path = data / "devices" / f"{device_id}.toml"
            write_secret(path, text.encode("utf-8"))
            configs[device_id] = path
        session.commit()  # and the directory watcher copies the seeded devices and sites

        progress("MQTT broker")
        passwords, acl = fleet.broker_files(session, rt)
        broker_dir = data / "broker"
        broker_dir.mkdir(parents=True, exist_ok=True)
        write_secret(broker_dir / "passwords", passwords.encode("utf-8"))
        (broker_dir / "acl").write_text(acl, encoding="utf-8")
        broker = start_demo_broker(
            broker_dir, broker_port, broker_dir / "passwords", broker_dir / "acl", fleet=100
        )
        progress(broker.description)

        rt.publisher.start()
        sync_manifests(session, rt)
        manifest_renewer(app).start()  # as in production: campaigns enter the horizon
        parts(app).feeds.start()  # and live feeds are fetched on their schedule
    finally:
        session.close()

    progress("CMS web server")
    cms_server = make_server(options.host, options.cms_port, app, threaded=True)
    stack = DemoStack(options, app, broker, cms_server, upstream, bookings)
    for server, name in (
        (cms_server, "cms-http"),
        (upstream, "demo-upstream"),
        (bookings, "demo-bookings"),
    ):
        thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
        thread.start()

    for device_id in options.players:
        progress(f"signage player {device_id}")
        device_config = load_device_config(configs[device_id])
        player, display = make_player(device_config)
        agent = DeviceAgent(
            device_config, player, sensors=FakePiSensors(), system=RecordingSystem()
        )
        agent.start()
        stack.devices.append(RunningDevice(device_id, agent, display))

    if options.portal:
        progress(f"portal node {options.portal}")
        device_config = load_device_config(configs[options.portal])
        portal_config = parse_portal_config(device_config.sections.get("portal", {}))
        node = PortalApplication(device_config, portal_config, config_path=configs[options.portal])
        agent = DeviceAgent(device_config, node, sensors=FakePiSensors(), system=RecordingSystem())
        agent.start()
        stack.devices.append(RunningDevice(options.portal, agent))
        stack.visitor_url = visitor_url(options, portal_config.faskey, upstream.server_port)
    return stack


def visitor_url(
    options: DemoOptions, faskey: str, upstream_port: int, *, mac: str = DEMO_VISITOR_MAC
) -> str:
    """The splash URL openNDS would send a phone to, for a pretend visitor who was opening
    a page on the demo's stand-in upstream server."""
    client = FasClient(
        hid=secrets.token_hex(32),
        client_ip="10.77.1.23",
        client_mac=mac,
        gateway_address="10.77.1.1:2050",  # the recording gateway never sends anyone there
        gateway_name="Cannington Leisureplex",
        origin_url=f"http://{options.host}:{upstream_port}/news",
    )
    query = encode_query(client, level=2, faskey=faskey, iv=secrets.token_hex(8))
    return f"http://{options.host}:{options.portal_port}/?{urllib.parse.urlencode(query)}"


def staff_logins() -> list[tuple[str, str, str]]:
    return [(username, role.value, DEMO_PASSWORD) for username, role, _ in USERS]
