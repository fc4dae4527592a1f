"""The devices of the foyer journey (issue 14), as IT installs them: each configured from
the file the CMS hands out at registration, a real device agent on a manual clock that
takes its retained, signed manifest and feeds from the broker and its assets from the
CMS over HTTP. The screen is the signage player on a headless display; the splash is the
portal node with its web app (the production app, built as `portal.wsgi` builds it, on
the node's clock) served on a free port."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PIL import Image
from sqlalchemy.orm import Session
from werkzeug.serving import BaseWSGIServer, make_server

from central_cms.runtime import CmsRuntime
from devices.agent import DeviceAgent, RecordingSystem
from devices.clock import ManualClock
from devices.config import load_device_config
from devices.protocol import Manifest
from portal.app import create_app
from portal.gateway import RecordingGateway
from portal.node import PortalApplication, portal_config_of, socket_path, view_path
from portal.nonces import MemoryNonceStore
from portal.relay import FileManifestSource, SocketRecorder
from portal.splash import Splash
from portal.wsgi import CacheAssets
from signage_player.display import HeadlessDisplay
from signage_player.player import SignagePlayer
from signage_player.tiles import TileKey
from testkit.brokers import free_port
from testkit.city import device_config_file
from testkit.harness import eventually
from testkit.portal import FASKEY, Visitor

GATEWAY = "10.77.1.1:2050"


@dataclass
class Screen:
    agent: DeviceAgent
    player: SignagePlayer
    display: HeadlessDisplay
    clock: ManualClock

    def wait_for_manifest(self, wanted: Callable[[Manifest], bool], timeout_s: float = 20) -> bool:
        """Until the manifest in force (verified, its assets downloaded) is `wanted`."""
        return eventually(
            lambda: self.agent.current is not None and wanted(self.agent.current), timeout_s
        )

    def at(self, instant: datetime) -> Image.Image:
        """The frame on screen once the player has acted on the clock reading `instant`."""
        self.clock.set(instant)
        self.player.wake()
        return self.settled()

    def settled(self) -> Image.Image:
        assert self.player.wait_until_idle(10), "the player did not settle"
        return self.display.frame.copy()

    def zones(self) -> dict[str, TileKey]:
        return self.player.zones_on_screen()

    def stop(self) -> None:
        self.agent.stop()


def start_screen(
    session: Session, rt: CmsRuntime, device_id: str, folder: Path, clock: ManualClock
) -> Screen:
    config = load_device_config(device_config_file(session, rt, device_id, folder))
    display = HeadlessDisplay()
    player = SignagePlayer(display)
    agent = DeviceAgent(config, player, clock=clock, system=RecordingSystem())
    agent.start()
    return Screen(agent, player, display, clock)


@dataclass
class SplashNode:
    agent: DeviceAgent
    node: PortalApplication
    server: BaseWSGIServer
    gateway: RecordingGateway
    base_url: str

    def visitor_url(self) -> str:
        """The splash address openNDS sends a phone on this Wi-Fi to (FAS level 2)."""
        visitor = Visitor(
            mac=f"02:00:00:00:{secrets.randbelow(256):02x}:{secrets.randbelow(256):02x}",
            ip="127.0.0.1",  # the browser reaches the app from here
            token=secrets.token_hex(4),
            origin_url="http://neverssl.com/online",
            level=2,
        )
        self.gateway.admit(visitor.mac, visitor.ip, visitor.token)
        return self.base_url + visitor.splash_url(lang="en")

    def stop(self) -> None:
        self.server.shutdown()
        self.agent.stop()


def start_splash(
    session: Session, rt: CmsRuntime, device_id: str, folder: Path, clock: ManualClock
) -> SplashNode:
    portal_toml = (
        "[portal]\n"
        f'secret = "journey-{secrets.token_hex(24)}"\nfaskey = "{FASKEY}"\n'
        f'gateway = "recording"\nfas_level = 2\ngateway_addresses = ["{GATEWAY}"]\n'
    )
    config = load_device_config(device_config_file(session, rt, device_id, folder, portal_toml))
    portal = portal_config_of(config)
    node = PortalApplication(config, portal, serve=False)  # the web app is served below
    agent = DeviceAgent(config, node, clock=clock, system=RecordingSystem())
    agent.start()
    gateway = RecordingGateway(clock)
    relay = SocketRecorder(socket_path(config))
    app = create_app(
        Splash(
            portal,
            gateway=gateway,
            manifest_source=FileManifestSource(view_path(config)),
            recorder=relay,
            clock=clock,
            assets=CacheAssets(config.cache_dir),
            nonces=MemoryNonceStore(),
            newsletter=relay,
            fallback_name=device_id,
        )
    )
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return SplashNode(agent, node, server, gateway, f"http://127.0.0.1:{port}")
