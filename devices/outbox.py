"""Durable store-and-forward for analytics events (DESIGN.md, data flow step 4).

Every event is written to SQLite first (WAL, synchronous=FULL: a Pi loses power more
often than it crashes), with a unique time-ordered id and the next sequence number of
this outbox's epoch. Events leave the disk only when the CMS acknowledges their seq.
When the disk budget is reached the oldest events are dropped and counted, and the
count travels with every batch and health sample; the dropped seqs, too, travel with
every batch until an ack passes them, so the ingest's contiguous watermark can move
past the hole they leave (issue 13.4).

`Outbox` is the store; `OutboxSender` decides what to (re)send and when, and only
moves bytes through the `publish` function it is given.
"""

from __future__ import annotations

import json
import logging
import secrets
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from devices.clock import Clock
from devices.protocol import EVENT_TYPE_OF_DATA, EventAck, EventBatch, EventData
from devices.protocol.events import MAX_DROPPED_RANGES

log = logging.getLogger(__name__)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq  INTEGER PRIMARY KEY AUTOINCREMENT,
    body TEXT NOT NULL
);
-- Seqs dropped for the budget and not yet acknowledged, as ranges [first_seq, last_seq].
CREATE TABLE IF NOT EXISTS dropped (
    first_seq INTEGER PRIMARY KEY,
    last_seq  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


def time_ordered_uuid(now_ms: int) -> str:
    """A UUIDv7 (RFC 9562): 48-bit millisecond time, then randomness. Sorting by id is
    sorting by time, which keeps the ingest's inserts append-only."""
    value = (now_ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= secrets.randbits(12) << 64
    value |= 0b10 << 62
    value |= secrets.randbits(62)
    return str(uuid.UUID(int=value))


class Outbox:
    def __init__(self, path: Path, *, device_id: str, budget_bytes: int, clock: Clock) -> None:
        self.device_id = device_id
        self._budget_bytes = budget_bytes
        self._clock = clock
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self.epoch = self._meta("epoch") or self._set_meta("epoch", secrets.token_hex(16))
        self.dropped_total = int(self._meta("dropped_total") or 0)
        self._highest_sent = int(self._meta("highest_sent") or 0)
        row = self._db.execute("SELECT COUNT(*), COALESCE(SUM(LENGTH(body)), 0) FROM events")
        self._count, self._bytes = row.fetchone()

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> str:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
        return value

    def record(self, data: EventData) -> int:
        """Store one event durably; returns its sequence number."""
        kind = EVENT_TYPE_OF_DATA[type(data)]
        now = self._clock.now()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                cursor = self._db.execute("INSERT INTO events (body) VALUES ('')")
                seq = int(cursor.lastrowid or 0)
                body = json.dumps(
                    {
                        "id": time_ordered_uuid(int(now.timestamp() * 1000)),
                        "seq": seq,
                        "at": now.isoformat(),
                        "type": kind,
                        "data": data.model_dump(mode="json"),
                    },
                    separators=(",", ":"),
                    ensure_ascii=False,
                )
                self._db.execute("UPDATE events SET body = ? WHERE seq = ?", (body, seq))
                self._count += 1
                self._bytes += len(body)
                self._enforce_budget()
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return seq

    def _enforce_budget(self) -> None:
        dropped = 0
        while self._bytes > self._budget_bytes and self._count > 1:
            seq, size = self._db.execute(
                "SELECT seq, LENGTH(body) FROM events ORDER BY seq LIMIT 1"
            ).fetchone()
            self._db.execute("DELETE FROM events WHERE seq = ?", (seq,))
            self._remember_dropped(int(seq))
            self._count -= 1
            self._bytes -= size
            dropped += 1
        if dropped:
            self.dropped_total += dropped
            self._set_meta("dropped_total", str(self.dropped_total))
            log.warning(
                "outbox full: dropped %d oldest events (%d in all)", dropped, self.dropped_total
            )

    def _remember_dropped(self, seq: int) -> None:
        # The oldest event goes first, so a drop usually extends the newest range.
        extended = self._db.execute(
            "UPDATE dropped SET last_seq = ? WHERE last_seq = ?", (seq, seq - 1)
        ).rowcount
        if not extended:
            self._db.execute("INSERT INTO dropped (first_seq, last_seq) VALUES (?, ?)", (seq, seq))

    def dropped_ranges(self) -> list[tuple[int, int]]:
        """Seq ranges dropped for the budget that no ack has passed yet."""
        with self._lock:
            return self._dropped_ranges()

    def _dropped_ranges(self) -> list[tuple[int, int]]:
        rows = self._db.execute(
            "SELECT first_seq, last_seq FROM dropped ORDER BY first_seq LIMIT ?",
            (MAX_DROPPED_RANGES,),
        ).fetchall()
        return [(int(first), int(last)) for first, last in rows]

    def batch_after(self, after_seq: int, max_events: int) -> tuple[bytes, int] | None:
        """The next batch to publish (encoded), and its highest seq; None if nothing is left."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                (after_seq, max_events),
            ).fetchall()
            # Every dropped seq is older than every event kept, so below this batch.
            dropped = self._dropped_ranges()
        if not rows:
            return None
        # Bodies were made from validated models; splice them rather than re-validate.
        events = ",".join(body for _, body in rows)
        ranges = f',"dropped":{json.dumps(dropped, separators=(",", ":"))}' if dropped else ""
        payload = (
            f'{{"schema":"{EventBatch.SCHEMA}","device_id":{json.dumps(self.device_id)},'
            f'"outbox_epoch":"{self.epoch}","dropped_total":{self.dropped_total}{ranges},'
            f'"events":[{events}]}}'
        )
        return payload.encode("utf-8"), int(rows[-1][0])

    def acknowledge(self, up_to_seq: int) -> int:
        """Delete every event with seq <= up_to_seq; returns how many went."""
        with self._lock:
            size, count = self._db.execute(
                "SELECT COALESCE(SUM(LENGTH(body)), 0), COUNT(*) FROM events WHERE seq <= ?",
                (up_to_seq,),
            ).fetchone()
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("DELETE FROM events WHERE seq <= ?", (up_to_seq,))
                # The ingest has counted dropped seqs up to here as lost: stop telling it.
                self._db.execute("DELETE FROM dropped WHERE last_seq <= ?", (up_to_seq,))
                self._db.execute(
                    "UPDATE dropped SET first_seq = ? WHERE first_seq <= ?",
                    (up_to_seq + 1, up_to_seq),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._count -= count
            self._bytes -= size
        return int(count)

    @property
    def highest_sent(self) -> int:
        """The highest seq ever published from this outbox (kept across restarts, so an
        ack for what the previous run sent is still believed)."""
        return self._highest_sent

    def mark_sent(self, seq: int) -> None:
        if seq > self._highest_sent:
            with self._lock:
                self._set_meta("highest_sent", str(seq))
                self._highest_sent = seq

    def first_pending_seq(self) -> int | None:
        with self._lock:
            row = self._db.execute("SELECT MIN(seq) FROM events").fetchone()
        return None if row[0] is None else int(row[0])

    @property
    def pending(self) -> int:
        return int(self._count)

    def close(self) -> None:
        with self._lock:
            self._db.close()


@dataclass
class SenderSettings:
    batch_events: int = 500
    window_events: int = 5000  # unacknowledged events in flight at most
    resend_after_s: float = 30.0


class OutboxSender:
    """Sends outbox batches and re-sends what stays unacknowledged.

    The ack is contiguous (DESIGN.md): a batch lost on the way holds the ack below it.
    When no ack progress arrives within `resend_after_s`, or after a reconnect, sending
    rewinds to just after the acknowledged seq, so the re-send fills the gap; the ingest
    ignores the duplicates by event id.
    """

    def __init__(
        self,
        outbox: Outbox,
        publish: Callable[[bytes], None],
        settings: SenderSettings | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._outbox = outbox
        self._publish = publish
        self._settings = settings or SenderSettings()
        self._monotonic = monotonic
        self._lock = threading.Lock()
        first = outbox.first_pending_seq()
        self.acked = (first - 1) if first is not None else 0
        self.sent_up_to = self.acked
        self.refused_acks = 0
        self._last_progress = monotonic()
        self.resends = 0

    def rewind(self) -> None:
        """Send everything unacknowledged again (after a reconnect)."""
        with self._lock:
            self.sent_up_to = self.acked
            self._last_progress = self._monotonic()

    def on_ack(self, ack: EventAck) -> None:
        if ack.outbox_epoch != self._outbox.epoch or ack.device_id != self._outbox.device_id:
            log.warning("ignoring ack for another outbox (epoch %s)", ack.outbox_epoch)
            return
        with self._lock:
            if ack.up_to_seq <= self.acked:
                return
            if ack.up_to_seq > self._outbox.highest_sent:
                # Acknowledging what was never sent: forged or confused (issue 13.5).
                # Believing it would delete every pending event unsent.
                self.refused_acks += 1
                log.warning(
                    "ignoring ack up to seq %d for %s: nothing above %d was sent",
                    ack.up_to_seq,
                    ack.device_id,
                    self._outbox.highest_sent,
                )
                return
            self.acked = ack.up_to_seq
            self.sent_up_to = max(self.sent_up_to, self.acked)
            self._last_progress = self._monotonic()
        self._outbox.acknowledge(ack.up_to_seq)

    def pump(self) -> float | None:
        """Publish what the window allows; returns seconds until a re-send is due, if any."""
        with self._lock:
            now = self._monotonic()
            if (
                self.sent_up_to > self.acked
                and now - self._last_progress >= self._settings.resend_after_s
            ):
                log.info(
                    "no ack past %d for %.0fs: re-sending from there",
                    self.acked,
                    now - self._last_progress,
                )
                self.sent_up_to = self.acked
                self._last_progress = now
                self.resends += 1
            while self.sent_up_to - self.acked < self._settings.window_events:
                room = self._settings.window_events - (self.sent_up_to - self.acked)
                batch = self._outbox.batch_after(
                    self.sent_up_to, min(room, self._settings.batch_events)
                )
                if batch is None:
                    break
                payload, last_seq = batch
                # Noted before publishing, so the ack cannot outrun it.
                self._outbox.mark_sent(last_seq)
                self._publish(payload)
                self.sent_up_to = last_seq
            if self.sent_up_to > self.acked:
                return max(0.0, self._settings.resend_after_s - (now - self._last_progress))
            return None
