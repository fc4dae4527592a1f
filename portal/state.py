"""Signed state carried in form fields and links (the portal uses no cookies), and the
store that makes an accept form usable once.

A token is ``base64url(json) "." base64url(hmac_sha256(secret, purpose "." body))``. The
purpose keeps a tracker signature from passing as form state and vice versa. The issue
time inside the body comes from the injected clock, so tests choose instants.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol


class StateError(ValueError):
    """The token is forged, damaged, expired or from another purpose."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Signer:
    secret: bytes
    _keyed: hmac.HMAC = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # The derived key and HMAC's padded inner/outer state are computed once; each
        # token copies that state (the splash signs a form on every request, #6).
        key = hmac.new(self.secret, b"ds-portal/sign", hashlib.sha256).digest()
        object.__setattr__(self, "_keyed", hmac.new(key, digestmod=hashlib.sha256))

    def _mac(self, purpose: str, body: str) -> str:
        mac = self._keyed.copy()
        mac.update(f"{purpose}.{body}".encode())
        return _b64(mac.digest())

    def sign(self, purpose: str, payload: dict[str, str | int]) -> str:
        body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
        return f"{body}.{self._mac(purpose, body)}"

    def verify(self, purpose: str, token: str, *, now: datetime, max_age_s: int) -> dict[str, str]:
        """The payload of a genuine, unexpired token; StateError otherwise."""
        if not isinstance(token, str) or len(token) > 4096 or token.count(".") != 1:
            raise StateError("malformed")
        body, mac = token.split(".")
        if not hmac.compare_digest(mac, self._mac(purpose, body)):
            raise StateError("bad signature")
        try:
            payload = json.loads(_unb64(body))
        except (ValueError, UnicodeDecodeError):
            raise StateError("malformed") from None
        if not isinstance(payload, dict):
            raise StateError("malformed")
        issued = payload.get("t")
        if not isinstance(issued, int) or not 0 <= now.timestamp() - issued <= max_age_s:
            raise StateError("expired")
        return {str(k): str(v) for k, v in payload.items()}

    def tag(self, purpose: str, *parts: str) -> str:
        """A short signature over `parts` (tracker links)."""
        return self._mac(purpose, "\x1f".join(parts))[:22]

    def check_tag(self, purpose: str, tag: str, *parts: str) -> bool:
        return hmac.compare_digest(tag, self.tag(purpose, *parts))


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
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self._path, timeout=5, isolation_level=None)
            self._local.db = db
        return db

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
