"""A real HTTP asset server on 127.0.0.1 for the content cache tests, told per asset how
to misbehave (status codes, 503s, cut connections, corrupt bytes, redirects), and what it
saw; plus a recording sleep and test blobs."""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from devices.cache import ContentCache, RetryPolicy

TOKEN = "device-token-123"


@dataclass(frozen=True)
class Asset:
    """Stands in for devices.protocol.AssetRef: frozen, read-only fields."""

    sha256: str
    url: str
    size_bytes: int
    content_type: str = "application/octet-stream"


@dataclass
class Behaviour:
    status: int | None = None  # answer this status instead of the file
    fail_503: int = 0  # answer 503 this many times first
    retry_after: str | None = None
    cuts: list[int] = field(default_factory=list)  # close the Nth response after cuts[N] bytes
    corrupt: bool = False
    ignore_range: bool = False
    no_length: bool = False  # omit Content-Length (close-delimited body)
    redirect_to: str | None = None
    require_token: bool = True
    chunk_delay_s: float = 0.0  # pace the body so a killer can land mid-download


@dataclass(frozen=True)
class Seen:
    path: str
    range: str | None
    authorization: str | None


def corrupted(data: bytes) -> bytes:
    """Flip a byte in every MiB and the last one, so any resumed tail is wrong too."""
    out = bytearray(data)
    for index in [*range(0, len(out), 1 << 20), len(out) - 1]:
        out[index] ^= 0xFF
    return bytes(out)


class AssetServer:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.behaviour: dict[str, Behaviour] = {}
        self.requests: list[Seen] = []
        self.lock = threading.Lock()
        self.body_started = threading.Event()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.app = self  # type: ignore[attr-defined]
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def add(self, name: str, data: bytes, **behaviour: object) -> Asset:
        path = f"/assets/{name}"
        with self.lock:
            self.files[path] = data
            self.behaviour[path] = Behaviour(**behaviour)  # type: ignore[arg-type]
        return Asset(hashlib.sha256(data).hexdigest(), self.base_url + path, len(data))

    def seen(self, name: str) -> list[Seen]:
        with self.lock:
            return [r for r in self.requests if r.path == f"/assets/{name}"]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        app: AssetServer = self.server.app  # type: ignore[attr-defined]
        with app.lock:
            app.requests.append(
                Seen(self.path, self.headers.get("Range"), self.headers.get("Authorization"))
            )
            behaviour = app.behaviour.get(self.path, Behaviour())
            data = app.files.get(self.path)
            fail = behaviour.fail_503 > 0
            behaviour.fail_503 -= fail
            cut = behaviour.cuts.pop(0) if behaviour.cuts else None
        if behaviour.redirect_to is not None:
            self.send_response(302)
            self.send_header("Location", behaviour.redirect_to)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if behaviour.require_token and self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._status(401)
        if data is None:
            return self._status(404)
        if behaviour.status is not None:
            return self._status(behaviour.status)
        if fail:
            return self._status(503, behaviour.retry_after)
        body = corrupted(data) if behaviour.corrupt else data
        requested = self.headers.get("Range")
        if requested and not behaviour.ignore_range:
            start = int(requested.removeprefix("bytes=").rstrip("-"))
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            body = body[start:]
        else:
            self.send_response(200)
        if not behaviour.no_length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        app.body_started.set()
        if cut is not None:
            body = body[:cut]
        try:
            for offset in range(0, len(body), 64 * 1024):
                self.wfile.write(body[offset : offset + 64 * 1024])
                if behaviour.chunk_delay_s:
                    time.sleep(behaviour.chunk_delay_s)  # pacing the server, not synchronising
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client was killed: that is the point of some tests

    def _status(self, status: int, retry_after: str | None = None) -> None:
        self.send_response(status)
        if retry_after is not None:
            self.send_header("Retry-After", retry_after)
        self.send_header("Content-Length", "0")
        self.end_headers()


class RecordingSleep:
    def __init__(self) -> None:
        self.delays_s: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays_s.append(seconds)


RETRY = RetryPolicy(max_attempts=5, base_delay_s=0.5, max_delay_s=2.0)


def blob(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def assert_every_installed_file_matches_its_name(root: Path) -> list[str]:
    names = []
    for path in sorted((root / "objects").glob("*/*")):
        assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name, path
        names.append(path.name)
    return names


def install(cache: ContentCache, server: AssetServer, name: str, size: int, age_s: float) -> Asset:
    """Install an asset and backdate it, so eviction order is deterministic."""
    asset = server.add(name, blob(size, seed=int.from_bytes(name.encode())))
    path = cache.ensure(asset)
    os.utime(path, (time.time() - age_s, time.time() - age_s))
    return asset
