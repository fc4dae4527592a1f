"""The device's live feeds: the last good, verified copy of each feed its manifest names.

The CMS publishes one signed, retained ``ds.feed/1`` per feed on ``ds/v1/feeds/{feed}``.
`FeedStore` takes a copy only if a CMS key signed it, it arrived on its own feed's topic
and its `version` is newer than the one held; it writes the signed bytes to disk
atomically (so a reboot offline still has them, verified again when read back) and
serves them through `latest`, which says None once a copy is older than the manifest's
`FeedRef.max_age_s`: the widget then says the information is unavailable rather than
show yesterday's timetable as today's.

The agent subscribes to every feed topic (the link cannot unsubscribe) and the store
keeps in memory whatever verifies, but on disk and in `latest` only the feeds the
current manifest names, so a feed added by a new manifest is there at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from devices.protocol import ProtocolError, PublicKey, parse_signed
from devices.protocol.feeds import FeedData
from devices.protocol.layouts import FeedRef
from devices.protocol.topics import FeedTopic, parse_topic
from devices.state import write_atomically

log = logging.getLogger(__name__)


class FeedReader(Protocol):
    """What a player's widgets and the portal's "What's on" need: one call."""

    def latest(self, feed_id: str, now: datetime) -> FeedData | None:
        """The last good copy of `feed_id` if the manifest names it and it is younger
        than its `max_age_s` at `now`; else None (show "unavailable")."""
        ...


class FeedStore:
    def __init__(
        self,
        folder: Path,
        trusted: Sequence[PublicKey],
        on_change: Callable[[str], None] | None = None,
    ) -> None:
        self._folder = folder
        self._trusted = list(trusted)
        self._on_change = on_change
        self._lock = threading.Lock()
        self._refs: dict[str, FeedRef] = {}
        self._copies: dict[str, tuple[FeedData, bytes]] = {}
        self.rejected = 0

    # --- the agent's side ----------------------------------------------------------

    def restore(self) -> None:
        """The copies kept on disk, verified again (a tampered file is ignored)."""
        for path in sorted(self._folder.glob("*.json")):
            self.accept(path.stem, path.read_bytes(), persist=False)

    def use(self, refs: Iterable[FeedRef]) -> None:
        """The feeds a new manifest names: these are served and kept on disk."""
        with self._lock:
            self._refs = {ref.id: ref for ref in refs}
            keep = {feed_id: payload for feed_id, (_, payload) in self._copies.items()}
        for feed_id, payload in keep.items():
            if feed_id in self._refs:
                self._save(feed_id, payload)
        for path in self._folder.glob("*.json"):
            if path.stem not in self._refs:
                path.unlink(missing_ok=True)

    def on_message(self, topic: str, payload: bytes) -> None:
        """The MQTT handler for ``ds/v1/feeds/+``."""
        try:
            parsed = parse_topic(topic)
        except ProtocolError:
            return
        if isinstance(parsed, FeedTopic) and payload:  # empty: a deleted feed; keep ours
            self.accept(parsed.feed_id, payload, persist=True)

    def accept(self, feed_id: str, payload: bytes, *, persist: bool) -> bool:
        try:
            data = parse_signed(FeedData, payload, self._trusted)
            if data.id != feed_id:
                raise ProtocolError("id", f"feed {data.id} arrived on the topic of {feed_id}")
        except ProtocolError as error:
            self.rejected += 1
            log.warning("rejected feed message for %s: %s", feed_id, error)
            return False
        with self._lock:
            held = self._copies.get(feed_id)
            if held is not None and data.version <= held[0].version:
                return False  # a replay or a retained copy we already have
            self._copies[feed_id] = (data, payload)
            named = feed_id in self._refs
        if persist and named:
            self._save(feed_id, payload)
        log.info("feed %s version %d: %d entries", feed_id, data.version, len(data.entries))
        if self._on_change is not None:
            self._on_change(feed_id)
        return True

    def _save(self, feed_id: str, payload: bytes) -> None:
        write_atomically(self._folder / f"{feed_id}.json", payload)

    # --- the widgets' side ---------------------------------------------------------

    def latest(self, feed_id: str, now: datetime) -> FeedData | None:
        with self._lock:
            ref = self._refs.get(feed_id)
            held = self._copies.get(feed_id)
        if ref is None or held is None:
            return None
        data = held[0]
        if now - data.fetched_at > timedelta(seconds=ref.max_age_s):
            return None
        return data

    def versions(self) -> dict[str, int]:
        """The version held per feed (for status and tests)."""
        with self._lock:
            return {feed_id: data.version for feed_id, (data, _) in self._copies.items()}


class FixedFeeds:
    """A FeedReader over given copies, with the same age rule: for a preview rendered by
    the CMS from its own last good copies, and for tests of widgets."""

    def __init__(self, copies: Iterable[tuple[FeedRef, FeedData]] = ()) -> None:
        self._copies = {ref.id: (ref, data) for ref, data in copies}

    def latest(self, feed_id: str, now: datetime) -> FeedData | None:
        held = self._copies.get(feed_id)
        if held is None or now - held[1].fetched_at > timedelta(seconds=held[0].max_age_s):
            return None
        return held[1]
