"""Between the node process (device agent, session monitor) and the web server workers that
serve the splash: the current manifest travels in a file, events and newsletter sign-ups
in datagrams over a Unix socket.

- The node writes ``portal-view.json`` atomically whenever the manifest or alerts change;
  workers look at its mtime at most once a second. The file survives reboots and outages,
  so the portal keeps serving the last manifest when the broker or CMS is unreachable.
- Workers send each event as one datagram, non-blocking: a busy or restarting node costs a
  dropped impression (logged), never a slow page.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ValidationError

from devices.files import write_atomic
from devices.protocol import (
    Alert,
    EventData,
    FeedbackData,
    Manifest,
    PromoClickedData,
    PromoShownData,
    ProtocolError,
    SessionEndedData,
    SplashShownData,
    TermsAcceptedData,
    validate,
)
from devices.protocol.feeds import FeedData
from portal.sources import NewsletterSignup, Snapshot

log = logging.getLogger(__name__)

EVENT_KINDS: dict[str, type[BaseModel]] = {
    cls.__name__: cls
    for cls in (
        SplashShownData,
        TermsAcceptedData,
        PromoShownData,
        PromoClickedData,
        SessionEndedData,
        FeedbackData,
    )
}
_NEWSLETTER = "newsletter"
_COUNT = "count"


def write_snapshot(
    path: Path,
    manifest: Manifest | None,
    alerts: tuple[Alert, ...],
    feeds: tuple[FeedData, ...] = (),
) -> None:
    document = {
        "manifest": manifest.to_json() if manifest else None,
        "alerts": [alert.to_json() for alert in alerts],
        "feeds": [feed.to_json() for feed in feeds],
    }
    write_atomic(path, json.dumps(document, separators=(",", ":")).encode("utf-8"))


def read_snapshot(path: Path, generation: int) -> Snapshot:
    document = json.loads(path.read_text(encoding="utf-8"))
    raw_manifest = document.get("manifest")
    manifest = validate(Manifest, raw_manifest) if raw_manifest else None
    alerts = tuple(validate(Alert, raw) for raw in document.get("alerts", []))
    feeds = tuple(validate(FeedData, raw) for raw in document.get("feeds", []))
    return Snapshot(manifest, alerts, generation, feeds)


class FileManifestSource:
    """A worker's view of the node's snapshot file."""

    def __init__(
        self,
        path: Path,
        *,
        check_every_s: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path = path
        self._check_every_s = check_every_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._checked = float("-inf")
        self._stamp: tuple[int, int] | None = None
        self._snapshot = Snapshot(None, (), 0)

    def snapshot(self) -> Snapshot:
        now = self._monotonic()
        with self._lock:
            if now - self._checked < self._check_every_s:
                return self._snapshot
            self._checked = now
            try:
                stat = self._path.stat()
            except FileNotFoundError:
                return self._snapshot
            stamp = (stat.st_mtime_ns, stat.st_size)
            if stamp != self._stamp:
                try:
                    self._snapshot = read_snapshot(self._path, self._snapshot.generation + 1)
                    self._stamp = stamp
                except (OSError, ValueError, ProtocolError) as error:
                    log.warning("keeping the previous portal view: %s", error)
            return self._snapshot


class SocketRecorder:
    """A worker's recorder and newsletter sink: one datagram per event to the node."""

    def __init__(self, path: Path) -> None:
        self._path = str(path)
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.setblocking(False)
        self.dropped = 0

    def _send(self, message: dict[str, object]) -> None:
        try:
            self._socket.sendto(json.dumps(message).encode(), self._path)
        except OSError as error:
            self.dropped += 1
            log.warning("portal event dropped (%s); %d so far", error, self.dropped)

    def record(self, data: EventData) -> None:
        self._send({"kind": type(data).__name__, "data": data.model_dump(mode="json")})

    def submit(self, signup: NewsletterSignup) -> None:
        self._send({"kind": _NEWSLETTER, "data": signup.__dict__})

    def count(self, name: str) -> None:
        self._send({"kind": _COUNT, "data": {"name": name}})


class EventRelay:
    """The node's end of the socket: validates each datagram and hands it on."""

    def __init__(
        self,
        path: Path,
        record: Callable[[EventData], None],
        newsletter: Callable[[NewsletterSignup], None],
        count: Callable[[str], None] = lambda name: None,
    ) -> None:
        self._path = path
        self._record = record
        self._newsletter = newsletter
        self._count = count
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(str(path))
        os.chmod(path, 0o600)
        self._socket.settimeout(0.5)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="portal-relay", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self._socket.close()
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                payload = self._socket.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                if self._stopping.is_set():
                    return
                raise
            self.handle(payload)

    def handle(self, payload: bytes) -> None:
        try:
            message = json.loads(payload)
            kind, data = message["kind"], message["data"]
            if kind == _NEWSLETTER:
                self._newsletter(NewsletterSignup(**data))
                return
            if kind == _COUNT:
                self._count(str(data["name"])[:40])
                return
            event = EVENT_KINDS[kind].model_validate(data)
        except (ValueError, KeyError, TypeError, ValidationError) as error:
            log.warning("bad datagram from a portal worker skipped: %.80s", error)
            return
        self._record(event)  # type: ignore[arg-type]
