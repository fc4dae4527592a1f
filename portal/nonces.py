"""The store that makes an accept form usable once, shared by the node's web workers, and
the periodic purge that keeps it from growing with every visitor."""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path
from typing import Protocol


def thread_connection(local: threading.local, path: Path) -> sqlite3.Connection:
    """This thread's autocommit connection to a node file that every web worker shares
    (SQLite connections are not to be shared between threads)."""
    db: sqlite3.Connection | None = getattr(local, "db", None)
    if db is None:
        db = sqlite3.connect(path, timeout=5, isolation_level=None)
        local.db = db
    return db


log = logging.getLogger(__name__)

# How often a web worker forgets used accept forms whose state has expired anyway: without
# it the node's nonce store grew with every visitor, for ever (issue 13).
NONCE_PURGE_S = 600.0


class NonceStore(Protocol):
    def use_once(self, nonce: str, expires_at: float) -> bool:
        """True the first time `nonce` is used before `expires_at` (unix seconds)."""
        ...

    def purge(self, now: float) -> int:
        """Forget nonces expired before `now`; how many were forgotten."""
        ...


class MemoryNonceStore:
    def __init__(self) -> None:
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def use_once(self, nonce: str, expires_at: float) -> bool:
        with self._lock:
            if nonce in self._seen:
                return False
            self._seen[nonce] = expires_at
            return True

    def purge(self, now: float) -> int:
        with self._lock:
            expired = [nonce for nonce, at in self._seen.items() if at < now]
            for nonce in expired:
                del self._seen[nonce]
            return len(expired)


class SqliteNonceStore:
    """Shared by every web server worker of the node, so a replay to another worker fails too."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._local = threading.local()
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS used_nonce (nonce TEXT PRIMARY KEY, expires_at REAL)"
            )
            db.execute(
                "CREATE INDEX IF NOT EXISTS used_nonce_expires_at ON used_nonce (expires_at)"
            )

    def _connect(self) -> sqlite3.Connection:
        return thread_connection(self._local, self._path)

    def use_once(self, nonce: str, expires_at: float) -> bool:
        db = self._connect()
        try:
            db.execute(
                "INSERT INTO used_nonce (nonce, expires_at) VALUES (?, ?)", (nonce, expires_at)
            )
        except sqlite3.IntegrityError:
            return False
        return True

    def purge(self, now: float) -> int:
        return (
            self._connect().execute("DELETE FROM used_nonce WHERE expires_at < ?", (now,)).rowcount
        )


class UsedForms:
    """Accept forms already sent, on the injected clock: purges the shared store at most
    every NONCE_PURGE_S per worker (any worker's purge serves them all)."""

    def __init__(self, store: NonceStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._purge_due = float("-inf")  # the first accept clears what a restart left

    def use_once(self, nonce: str, now: float, max_age_s: float) -> bool:
        """True the first time the form with `nonce` is sent within its `max_age_s`."""
        self._purge(now)
        return self._store.use_once(nonce, now + max_age_s)

    def _purge(self, now: float) -> None:
        with self._lock:
            due = self._purge_due
            if due - NONCE_PURGE_S <= now < due:  # not yet due, and the clock did not step back
                return
            self._purge_due = now + NONCE_PURGE_S
        removed = self._store.purge(now)
        if removed:
            log.debug("forgot %s used accept forms", removed)
