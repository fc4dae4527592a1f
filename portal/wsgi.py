"""The web server's entry point: ``granian --interface wsgi --factory portal.wsgi:application``
(see `portal.node.server_command`) with DS_PORTAL_CONFIG naming the node's device TOML. Each
worker process calls `application()` and builds its own app from the config."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

from devices.clock import SystemClock
from devices.config import load_device_config
from portal.app import create_app
from portal.node import (
    CONFIG_ENV,
    NODE_PID_ENV,
    make_gateway,
    portal_config_of,
    socket_path,
    view_path,
)
from portal.nonces import SqliteNonceStore
from portal.relay import FileManifestSource, SocketRecorder
from portal.returning import SqliteAcceptRecord
from portal.splash import Splash
from portal.worker import pin_to_a_core, stop_with_the_server


class CacheAssets:
    """Read-only view of the agent's content cache (objects/<aa>/<sha256>)."""

    def __init__(self, root: Path) -> None:
        self._objects = root / "objects"

    def path(self, sha256: str) -> Path | None:
        path = self._objects / sha256[:2] / sha256
        return path if path.is_file() else None


def application() -> Flask:
    node = os.environ.get(NODE_PID_ENV)
    stop_with_the_server(int(node) if node else None)
    config = load_device_config(Path(os.environ[CONFIG_ENV]))
    portal = portal_config_of(config)
    if portal.pin_workers:
        pin_to_a_core(portal.workers, config.state_dir / "portal-cores.lock")
    relay = SocketRecorder(socket_path(config))
    return create_app(
        Splash(
            portal,
            gateway=make_gateway(portal),
            manifest_source=FileManifestSource(view_path(config)),
            recorder=relay,
            clock=SystemClock(),
            assets=CacheAssets(config.cache_dir),
            nonces=SqliteNonceStore(config.state_dir / "portal-nonces.sqlite3"),
            returning=SqliteAcceptRecord(config.state_dir / "portal-returning.sqlite3"),
            newsletter=relay,
            tally=relay,
            fallback_name=config.device_id,
        )
    )
