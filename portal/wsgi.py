"""The web server's entry point: ``granian --interface wsgi --factory portal.wsgi:application``
(see `portal.node.server_command`) with DS_PORTAL_CONFIG naming the node's device TOML. Each
worker process calls `application()` and builds its own app from the config."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from pathlib import Path

import psutil
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
from portal.relay import FileManifestSource, SocketRecorder
from portal.state import SqliteNonceStore


class CacheAssets:
    """Read-only view of the agent's content cache (objects/<aa>/<sha256>)."""

    def __init__(self, root: Path) -> None:
        self._objects = root / "objects"

    def path(self, sha256: str) -> Path | None:
        path = self._objects / sha256[:2] / sha256
        return path if path.is_file() else None


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _stop_with_the_server() -> None:
    """Granian's workers outlive a killed main process and keep serving on its port, out of
    the node's reach; so the kernel kills this worker when its parent dies, and a worker
    whose parent is already gone (not the node's child) stops at once. SIGKILL, because a
    worker still building its app runs the main process's SIGTERM handler, which would
    only set a flag in the worker's copy of the server."""
    if sys.platform != "linux":
        return
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    node = os.environ.get(NODE_PID_ENV)
    if node is None:  # the server was started by hand
        return
    try:
        orphaned = psutil.Process(os.getppid()).ppid() != int(node)
    except psutil.NoSuchProcess:
        orphaned = True
    if orphaned:
        os.kill(os.getpid(), signal.SIGKILL)


def application() -> Flask:
    _stop_with_the_server()
    config = load_device_config(Path(os.environ[CONFIG_ENV]))
    portal = portal_config_of(config)
    relay = SocketRecorder(socket_path(config))
    return create_app(
        portal,
        gateway=make_gateway(portal),
        manifest_source=FileManifestSource(view_path(config)),
        recorder=relay,
        clock=SystemClock(),
        assets=CacheAssets(config.cache_dir),
        nonces=SqliteNonceStore(config.state_dir / "portal-nonces.sqlite3"),
        newsletter=relay,
        fallback_name=config.device_id,
    )
