"""Splash frequency (issue 16): which visitors go straight online without the terms.

A site's Wi-Fi policy may say "show the terms again every N days"
(`WifiPolicy.splash_every_days`). A phone that accepted the current terms at this node
less than N days ago is let through when openNDS sends it to the splash
(`portal.welcome`); N None (the default) shows the terms at every visit.

What the node keeps for it, and nothing more: a keyed hash of the phone's MAC
(`privacy.returning_hashes`; a phone's per-network random MAC is stable per SSID, so the
hash recognises it here and nowhere else) -> when it last accepted the terms by ticking
the box, and which version. Being let through does not renew that time, so even a daily
visitor reads the terms every N days. Records older than the current N are pruned (a
policy that lowers N applies at once, to the records made before it too), and with no N
nothing is written and the next prune empties the record. At most MAX_RECORDS are kept,
the oldest dropped first (plus what is accepted between two prunes).

The record is an SQLite file in the node's state folder, not a JSON file rewritten with
`devices.files.write_atomic`: every web worker process reads it on a returning visitor's
splash and writes it on an accept, so one row per accept, atomic and shared by the
workers (as `portal.nonces` is), beats rewriting the whole record under a lock.
"""

from __future__ import annotations

import functools
import logging
import os
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from portal.nonces import thread_connection
from portal.privacy import RETURNING_PERIOD_DAYS, period_index, returning_hashes

log = logging.getLogger(__name__)

MAX_RECORDS = 100_000  # ~10 MB of SQLite; past it the oldest accepts are forgotten
PRUNE_S = 600.0  # how often a web worker prunes the shared record (on the injected clock)
# An accept recorded further in the future than this is from a clock that was wrong.
_FUTURE = timedelta(minutes=1)


def _period_start(period: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=period * RETURNING_PERIOD_DAYS)


@dataclass(frozen=True)
class LastAccept:
    accepted_at: datetime
    terms_version: str


def lets_through(
    last: LastAccept | None, *, now: datetime, every_days: int | None, terms_version: str
) -> bool:
    """Whether a phone whose last accept was `last` skips the terms at `now`. Pure.

    Only the current terms count (a visitor consents to each version), and only an accept
    less than `every_days` x 24 h ago: elapsed time, so midnight (the site's or UTC's)
    changes nothing. An accept from the future (the clock was stepped back) does not count.
    """
    if every_days is None or last is None or last.terms_version != terms_version:
        return False
    return timedelta(0) <= now - last.accepted_at < timedelta(days=every_days)


class AcceptRecord(Protocol):
    def last(self, current: str, previous: str) -> LastAccept | None:
        """The latest accept recorded under either hash of a phone (`returning_hashes`)."""
        ...

    def remember(self, hash_: str, at: datetime, terms_version: str) -> None: ...

    def prune(self, before: datetime | None, after: datetime, keep: int) -> int:
        """Forget accepts before `before` (None: all) or after `after`, then all but the
        `keep` latest; how many were forgotten."""
        ...


class MemoryAcceptRecord:
    def __init__(self) -> None:
        self._rows: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def last(self, current: str, previous: str) -> LastAccept | None:
        with self._lock:
            found = [self._rows[h] for h in (current, previous) if h in self._rows]
        if not found:
            return None
        at, version = max(found)
        return LastAccept(datetime.fromtimestamp(at, UTC), version)

    def remember(self, hash_: str, at: datetime, terms_version: str) -> None:
        with self._lock:
            self._rows[hash_] = (at.timestamp(), terms_version)

    def prune(self, before: datetime | None, after: datetime, keep: int) -> int:
        low = float("inf") if before is None else before.timestamp()
        with self._lock:
            gone = [h for h, (at, _) in self._rows.items() if at < low or at > after.timestamp()]
            for h in gone:
                del self._rows[h]
            excess = sorted(self._rows, key=lambda h: self._rows[h][0])[
                : max(0, len(self._rows) - keep)
            ]
            for h in excess:
                del self._rows[h]
            return len(gone) + len(excess)

    def __len__(self) -> int:
        return len(self._rows)


class SqliteAcceptRecord:
    """Shared by every web server worker of the node (WAL: lookups never wait for a write)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._local = threading.local()
        # Created owner-only before SQLite opens it; SQLite gives its -wal and -shm files
        # the database file's permissions.
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        db = self._connect()
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(
            "CREATE TABLE IF NOT EXISTS last_accept"
            " (hash TEXT PRIMARY KEY, accepted_at REAL NOT NULL, terms_version TEXT NOT NULL)"
        )
        db.execute("CREATE INDEX IF NOT EXISTS last_accept_at ON last_accept (accepted_at)")

    def _connect(self) -> sqlite3.Connection:
        return thread_connection(self._local, self._path)

    def last(self, current: str, previous: str) -> LastAccept | None:
        row = (
            self._connect()
            .execute(
                "SELECT accepted_at, terms_version FROM last_accept WHERE hash IN (?, ?)"
                " ORDER BY accepted_at DESC LIMIT 1",
                (current, previous),
            )
            .fetchone()
        )
        return None if row is None else LastAccept(datetime.fromtimestamp(row[0], UTC), row[1])

    def remember(self, hash_: str, at: datetime, terms_version: str) -> None:
        self._connect().execute(
            "INSERT INTO last_accept (hash, accepted_at, terms_version) VALUES (?, ?, ?)"
            " ON CONFLICT (hash) DO UPDATE SET accepted_at = excluded.accepted_at,"
            " terms_version = excluded.terms_version",
            (hash_, at.timestamp(), terms_version),
        )

    def prune(self, before: datetime | None, after: datetime, keep: int) -> int:
        db = self._connect()
        if before is None:
            return db.execute("DELETE FROM last_accept").rowcount
        removed = db.execute(
            "DELETE FROM last_accept WHERE accepted_at < ? OR accepted_at > ?",
            (before.timestamp(), after.timestamp()),
        ).rowcount
        removed += db.execute(
            "DELETE FROM last_accept WHERE hash IN (SELECT hash FROM last_accept"
            " ORDER BY accepted_at DESC LIMIT -1 OFFSET ?)",
            (keep,),
        ).rowcount
        return removed


class ReturningVisitors:
    """The node's returning-visitor record on the injected clock: the policy's N is
    passed in on every call, so a changed policy applies from the next visitor on."""

    def __init__(self, secret: bytes, record: AcceptRecord, *, keep: int = MAX_RECORDS) -> None:
        self._secret = secret
        self._record = record
        self._keep = keep
        self._lock = threading.Lock()
        self._prune_due = float("-inf")  # the first visit prunes what a restart left
        self._by_period = functools.lru_cache(maxsize=4096)(self._hashes_in)

    def _hashes_in(self, mac: str, period: int) -> tuple[str, str]:
        # The splash is hot, and the mini-browser and the OS probe load it alike.
        return returning_hashes(self._secret, mac, _period_start(period))

    def _hashes(self, mac: str, now: datetime) -> tuple[str, str]:
        return self._by_period(mac, period_index(now, RETURNING_PERIOD_DAYS))

    def let_through(
        self, mac: str, now: datetime, every_days: int | None, terms_version: str
    ) -> bool:
        """Whether the phone with `mac` may skip the terms now."""
        self._prune(now, every_days)
        if every_days is None:
            return False
        last = self._record.last(*self._hashes(mac, now))
        return lets_through(last, now=now, every_days=every_days, terms_version=terms_version)

    def accepted(self, mac: str, now: datetime, every_days: int | None, terms_version: str) -> None:
        """The phone with `mac` has just ticked the box; kept only while the policy has N."""
        self._prune(now, every_days)
        if every_days is not None:
            current, _ = self._hashes(mac, now)
            self._record.remember(current, now, terms_version)

    def _prune(self, now: datetime, every_days: int | None) -> None:
        tick = now.timestamp()
        with self._lock:
            due = self._prune_due
            if due - PRUNE_S <= tick < due:  # not yet due, and the clock did not step back
                return
            self._prune_due = tick + PRUNE_S
        before = None if every_days is None else now - timedelta(days=every_days)
        removed = self._record.prune(before, now + _FUTURE, self._keep)
        if removed:
            log.info("returning-visitor record: forgot %s accepts", removed)
