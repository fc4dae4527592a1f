"""The portal node: a `DeviceApplication` the device agent drives, which runs the web app
under Granian (a child process it owns), relays the workers' events into the agent's
outbox, watches gateway sessions and forwards newsletter sign-ups to the CMS."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from devices.clock import SystemClock
from devices.config import DeviceConfig
from devices.device_kind import AgentServices, CommandOutcome
from devices.files import write_secret
from devices.protocol import (
    Alert,
    Command,
    CommandName,
    EventData,
    Manifest,
    NowShowing,
    PortalHealth,
    TermsAcceptedData,
    WifiPolicy,
)
from devices.protocol.feeds import FeedData
from portal.admission import Admission
from portal.config import GatewayKind, PortalConfig, parse_portal_config
from portal.firewall import NodeFirewall
from portal.gateway import Gateway, RecordingGateway
from portal.ndsctl import NdsctlSocket
from portal.node_health import ACCEPT_FAILED, MB, PortalFigures, Quota
from portal.opennds import CommandControl, OpenNDSGateway
from portal.relay import EventRelay, write_snapshot
from portal.sessions import SessionMonitor
from portal.sources import NewsletterSignup

log = logging.getLogger(__name__)
CONFIG_ENV = "DS_PORTAL_CONFIG"
NODE_PID_ENV = "DS_PORTAL_NODE_PID"  # the web server's workers check they are the node's


def view_path(config: DeviceConfig) -> Path:
    return config.state_dir / "portal-view.json"


def socket_path(config: DeviceConfig) -> Path:
    return config.state_dir / "portal-events.sock"


def make_gateway(portal: PortalConfig) -> Gateway:
    if portal.gateway is GatewayKind.RECORDING:
        return RecordingGateway(SystemClock(), trust_unknown=True)
    control: Callable[[str], str] = (
        NdsctlSocket(portal.ndsctl_socket)
        if portal.ndsctl_socket is not None
        else CommandControl(portal.ndsctl)
    )
    admission = Admission(
        control,
        max_waiting=portal.admission_max_waiting,
        max_wait_s=portal.admission_max_wait_s,
    )
    return OpenNDSGateway(control, admission=admission)


def make_firewall(portal: PortalConfig) -> NodeFirewall | None:
    """The walled garden and IPv6 guard beside openNDS; none for the recording gateway."""
    if portal.gateway is GatewayKind.RECORDING:
        return None
    return NodeFirewall(interface=portal.gateway_interface, prefix=portal.firewall_command)


def server_command(portal: PortalConfig) -> list[str]:
    """The production server for the web app: Granian, whose Rust side parses HTTP, keeps
    connections alive and waits on slow clients, so a worker's Python threads only run the
    app. bench/portal.py on 2 cores, 200 connections, 2 workers x 2 threads pinned: 8,500-
    13,300 splashes/s, p99 31-40 ms, ~130-200 CPU-us a request; gunicorn's gthread
    workers gave 2,900-4,400/s, p99 77-135 ms, 400-590 CPU-us (#6)."""
    return [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "wsgi",
        # Each worker process calls portal.wsgi:application() to build its own app.
        "--factory",
        "--host",
        portal.listen_host,
        "--port",
        str(portal.listen_port),
        "--workers",
        str(portal.workers),
        # Python threads per worker that run the app (they share the worker's GIL).
        "--blocking-threads",
        str(portal.threads),
        "--backlog",
        "2048",
        # No --backpressure: Granian counts it in connections, not requests, so idle
        # keep-alive connections from phones would hold every slot and new ones would wait.
        # Phones reach the splash over plain HTTP/1.1; nothing else is spoken here.
        "--http",
        "1",
        "--no-ws",
        # A visitor's idle or trickling connection is dropped after 10 s without a
        # complete request (it costs the Rust side a few bytes, no Python thread).
        "--http1-header-read-timeout",
        "10000",
        # A crashed worker is replaced on its own (the node restarts the whole server
        # if it exits), and one that will not stop is killed after 5 s.
        "--respawn-failed-workers",
        "--workers-kill-timeout",
        "5",
        *(["--access-log"] if portal.access_log else []),
        "portal.wsgi:application",
    ]


# Answers after which a sign-up is sent again later: the CMS is down, overloaded, or
# does not know this node's token yet (credentials being re-issued).
_TRY_AGAIN = frozenset({401, 408, 425, 429, 500, 502, 503, 504})


class NewsletterForwarder:
    """Consented sign-ups go to the CMS; until it answers they wait in a 0600 spool file."""

    def __init__(self, url: str | None, token: str, spool: Path) -> None:
        self._url = url
        self._token = token
        self._spool = spool
        self._lock = threading.Lock()

    def submit(self, signup: NewsletterSignup) -> None:
        if self._url is None:
            log.warning("newsletter sign-up dropped: portal.newsletter_url is not set")
            return
        with self._lock:
            fd = os.open(self._spool, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(signup.__dict__) + "\n")
        threading.Thread(target=self.flush, daemon=True).start()

    def flush(self) -> None:
        if self._url is None:
            return
        with self._lock:
            try:
                lines = self._spool.read_text(encoding="utf-8").splitlines()
            except FileNotFoundError:
                return
            left = []
            for line in lines:
                # The URL is checked to be http(s) when the config is read.
                request = urllib.request.Request(  # noqa: S310
                    self._url,
                    data=line.encode(),
                    headers={
                        "Content-Type": "application/json",
                        "Authorization": f"Bearer {self._token}",
                    },
                    method="POST",
                )
                try:
                    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                        response.read()
                except urllib.error.HTTPError as error:
                    if error.code in _TRY_AGAIN:
                        log.info("newsletter sign-up kept for later: CMS answered %s", error.code)
                        left.append(line)
                    else:
                        # Refused for good (another site, malformed, too large): keeping it
                        # would only re-send it forever. Log without the address.
                        log.warning(
                            "newsletter sign-up dropped: the CMS refused it with %s", error.code
                        )
                except OSError as error:
                    log.info("newsletter sign-up kept for later: %s", error)
                    left.append(line)
            write_secret(self._spool, "".join(f"{line}\n" for line in left).encode("utf-8"))


class PortalApplication:
    """Holds the current manifest for the web app and answers portal commands."""

    def __init__(
        self,
        config: DeviceConfig,
        portal: PortalConfig,
        *,
        gateway: Gateway | None = None,
        firewall: NodeFirewall | None = None,
        serve: bool = True,
        config_path: Path | None = None,
    ) -> None:
        self._config = config
        self._portal = portal
        self._gateway = gateway or make_gateway(portal)
        self._firewall = firewall if firewall is not None else make_firewall(portal)
        self._serve = serve
        self._config_path = config_path
        self._services: AgentServices | None = None
        self._manifest: Manifest | None = None
        self._alerts: tuple[Alert, ...] = ()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: subprocess.Popen[bytes] | None = None
        self._relay: EventRelay | None = None
        self._monitor: SessionMonitor | None = None
        self._thread: threading.Thread | None = None
        self._figures = PortalFigures(time.monotonic)
        self._newsletter = NewsletterForwarder(
            portal.newsletter_url, config.asset_token, config.state_dir / "newsletter-spool.jsonl"
        )

    @property
    def manifest(self) -> Manifest | None:
        with self._lock:
            return self._manifest

    @property
    def server_pid(self) -> int | None:
        """The web server's main process, while it runs."""
        server = self._server
        return server.pid if server is not None and server.poll() is None else None

    def _record(self, data: EventData) -> None:
        if isinstance(data, TermsAcceptedData):
            self._figures.authorised()
        if self._services is not None:
            self._services.record(data)

    def start(self, services: AgentServices) -> None:
        self._services = services
        services.feeds.on_change(lambda _feed_id: self._publish())  # "What's on"
        self._config.state_dir.mkdir(parents=True, exist_ok=True)
        self._relay = EventRelay(
            socket_path(self._config), self._record, self._newsletter.submit, self._count
        )
        self._relay.start()
        self._monitor = SessionMonitor(
            self._gateway,
            self,
            secret=self._portal.secret,
            clock=services.clock,
            session_minutes=self._session_minutes,
            idle_minutes=self._idle_minutes,
            observe=lambda sessions: self._figures.observe(sessions, self._quota()),
        )
        if not view_path(self._config).exists():
            write_snapshot(view_path(self._config), None, ())
        self._apply_firewall()  # the IPv6 guard holds from the start, before any manifest
        self._thread = threading.Thread(target=self._watch, name="portal-sessions", daemon=True)
        self._thread.start()
        if self._serve:
            self._start_server()

    def record(self, data: EventData) -> None:  # Recorder, for the session monitor
        self._record(data)

    def _count(self, name: str) -> None:
        if name == ACCEPT_FAILED:
            self._figures.failed()

    def portal_health(self) -> PortalHealth:  # ReportsPortalHealth, for each health sample
        return self._figures.sample()

    def _quota(self) -> Quota:
        """The per-session data quota of the site's Wi-Fi policy, if it sets one."""
        wifi = self._wifi()
        down = wifi.download_quota_mb if wifi else None
        up = wifi.upload_quota_mb if wifi else None
        return Quota(
            download_bytes=down * MB if down is not None else None,
            upload_bytes=up * MB if up is not None else None,
        )

    def _session_minutes(self) -> int:
        manifest = self.manifest
        return manifest.portal.session_minutes if manifest and manifest.portal else 240

    def _wifi(self) -> WifiPolicy | None:
        manifest = self.manifest
        return manifest.portal.wifi if manifest and manifest.portal else None

    def _idle_minutes(self) -> int | None:
        wifi = self._wifi()
        return wifi.idle_minutes if wifi else None

    def _apply_firewall(self) -> None:
        if self._firewall is not None:
            self._firewall.apply(self._wifi())

    def _start_server(self) -> None:
        env = {**os.environ, NODE_PID_ENV: str(os.getpid())}
        if self._config_path is not None:
            env[CONFIG_ENV] = str(self._config_path.resolve())
        self._server = subprocess.Popen(server_command(self._portal), env=env)
        log.info(
            "portal web app on %s:%s (granian pid %s)",
            self._portal.listen_host,
            self._portal.listen_port,
            self._server.pid,
        )

    def _watch(self) -> None:
        while not self._stopping.wait(self._portal.session_poll_s):
            # Every poll: openNDS recreates its chains empty whenever it restarts.
            self._apply_firewall()
            if self._monitor is not None:
                self._monitor.poll()
            self._newsletter.flush()
            if self._server is not None and self._server.poll() is not None and self._serve:
                log.error(
                    "the portal web server exited with %s; restarting it", self._server.returncode
                )
                self._start_server()

    def _publish(self) -> None:
        with self._lock:
            manifest, alerts = self._manifest, self._alerts
        write_snapshot(view_path(self._config), manifest, alerts, self._feeds(manifest))

    def _feeds(self, manifest: Manifest | None) -> tuple[FeedData, ...]:
        """The copies of the manifest's feeds the agent holds (the splash checks age)."""
        if manifest is None or self._services is None:
            return ()
        now = self._services.clock.now()
        copies = (self._services.feeds.latest(ref.id, now) for ref in manifest.feeds)
        return tuple(copy for copy in copies if copy is not None)

    def apply_manifest(self, manifest: Manifest) -> None:
        with self._lock:
            self._manifest = manifest
        self._publish()
        self._apply_firewall()
        log.info("portal now serves manifest %s", manifest.version)

    def apply_alerts(self, alerts: Sequence[Alert]) -> None:
        with self._lock:
            self._alerts = tuple(alerts)
        self._publish()

    def run_command(self, command: Command) -> CommandOutcome:
        if command.name is CommandName.DEAUTHORISE:
            reference = command.args.get("client")
            if not isinstance(reference, str) or not reference:
                return CommandOutcome(False, "args.client: give the client hash or gateway token")
            if self._monitor is None or not self._monitor.deauthorise(reference):
                return CommandOutcome(False, "no authorised client with that hash or token")
            return CommandOutcome(True, "client deauthorised")
        if command.name is CommandName.REFRESH:
            self._publish()
            return CommandOutcome(True, "portal view rewritten")
        return CommandOutcome(False, f"{command.name.value} is not supported on a portal node")

    def now_showing(self) -> NowShowing | None:
        return None

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._server is not None and self._server.poll() is None:
            self._server.terminate()  # our own child, by PID
            try:
                self._server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._server.kill()
        if self._relay is not None:
            self._relay.stop()


def portal_config_of(config: DeviceConfig) -> PortalConfig:
    return parse_portal_config(config.sections.get("portal", {}))
