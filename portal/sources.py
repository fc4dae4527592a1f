"""The web app's seams to the rest of the node: where the manifest comes from, where
analytics events go, where newsletter sign-ups go. One in-memory implementation of each
for tests and single-process runs; the cross-process ones live in portal.relay."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from devices.protocol import Alert, EventData, Manifest
from devices.protocol.feeds import FeedData

log = logging.getLogger(__name__)
E = TypeVar("E")


@dataclass(frozen=True)
class Snapshot:
    manifest: Manifest | None
    alerts: tuple[Alert, ...] = ()
    generation: int = 0  # changes whenever manifest, alerts or feeds change
    # The last good copies of the manifest's feeds, for "What's on" (devices/feeds.py).
    feeds: tuple[FeedData, ...] = ()


class ManifestSource(Protocol):
    def snapshot(self) -> Snapshot: ...


class Recorder(Protocol):
    def record(self, data: EventData) -> None:
        """Queue an analytics event for the outbox; must not block the request."""
        ...


class Tally(Protocol):
    def count(self, name: str) -> None:
        """Count one occurrence of `name` for the node's health figures (issue 16)."""
        ...


class NoTally:
    def count(self, name: str) -> None:
        pass


@dataclass(frozen=True)
class NewsletterSignup:
    email: str
    site_id: str
    language: str
    terms_version: str


class NewsletterSink(Protocol):
    def submit(self, signup: NewsletterSignup) -> None:
        """Pass a consented sign-up to the CMS (never to analytics)."""
        ...


class MemorySource:
    def __init__(self, manifest: Manifest | None = None, alerts: tuple[Alert, ...] = ()) -> None:
        self._lock = threading.Lock()
        self._snapshot = Snapshot(manifest, alerts, 1)

    def snapshot(self) -> Snapshot:
        with self._lock:
            return self._snapshot

    def set(
        self,
        manifest: Manifest | None,
        alerts: tuple[Alert, ...] | None = None,
        feeds: tuple[FeedData, ...] | None = None,
    ) -> None:
        with self._lock:
            old = self._snapshot
            self._snapshot = Snapshot(
                manifest,
                old.alerts if alerts is None else alerts,
                old.generation + 1,
                old.feeds if feeds is None else feeds,
            )


@dataclass
class MemoryRecorder:
    events: list[EventData] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, data: EventData) -> None:
        with self._lock:
            self.events.append(data)

    def of(self, kind: type[E]) -> list[E]:
        with self._lock:
            return [event for event in self.events if isinstance(event, kind)]


@dataclass
class MemoryNewsletter:
    signups: list[NewsletterSignup] = field(default_factory=list)

    def submit(self, signup: NewsletterSignup) -> None:
        self.signups.append(signup)


class DroppingNewsletter:
    """For nodes without a newsletter endpoint: the form does not offer the opt-in then
    (the manifest decides), so this only logs a misconfiguration."""

    def submit(self, signup: NewsletterSignup) -> None:
        log.warning("newsletter sign-up for site %s dropped: no newsletter_url", signup.site_id)
