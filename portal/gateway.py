"""The Wi-Fi gateway behind one small interface: openNDS (production) and a recording
gateway (demo and tests).

openNDS at FAS levels 1 and 2 documents one way to authorise: the visitor's own browser
opens ``http://<gatewayaddress>/<authdir>/?tok=sha256(hid+faskey)&redir=<url>``, so
`authorise` returns that URL for the portal to redirect to. Deauthorising and reading
sessions go through ``ndsctl`` (``deauth``, ``json``) on the gateway's control socket.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from devices.clock import Clock
from portal.admission import GatewayBusy, GatewayError
from portal.fas import FasClient, hid_matches_token
from portal.privacy import normalise_mac
from portal.wifi_policy import NO_LIMITS, ClientLimits

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GatewaySession:
    mac: str
    ip: str
    authenticated: bool
    token: str = ""
    started_at: datetime | None = None
    ends_at: datetime | None = None
    bytes_in: int | None = None  # downloaded by the client
    bytes_out: int | None = None
    last_active: datetime | None = None


__all__ = ["GatewayBusy", "GatewayError"]


class Gateway(Protocol):
    def verify(self, client: FasClient) -> bool:
        """The gateway knows this client, and the query's hid is really its token's."""
        ...

    def warm(self, client: FasClient) -> None:
        """A hint that `client` will soon be verified (it is reading the splash)."""
        ...

    def authorise(
        self, client: FasClient, redirect_url: str, limits: ClientLimits = NO_LIMITS
    ) -> str:
        """Let `client` online with `limits`; returns the URL the visitor's browser opens
        next. Raises GatewayBusy when the visitor should try again shortly."""
        ...

    def deauthorise(self, mac: str) -> bool:
        """Block `mac` again; False if the gateway did not know it."""
        ...

    def sessions(self) -> list[GatewaySession]: ...

    def session_for_ip(self, ip: str) -> GatewaySession | None: ...


# --- openNDS -----------------------------------------------------------------------------


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def _instant(value: object) -> datetime | None:
    seconds = _int(value)
    return datetime.fromtimestamp(seconds, UTC) if seconds else None


def session_from_ndsctl(entry: dict[str, object]) -> GatewaySession:
    """One client of ``ndsctl json`` (every value is a string there)."""
    # openNDS counts traffic in kB (1024 bytes) in *_this_session.
    down = _int(entry.get("download_this_session"))
    up = _int(entry.get("upload_this_session"))
    return GatewaySession(
        mac=normalise_mac(str(entry.get("mac", ""))),
        ip=str(entry.get("ip", "")),
        authenticated=entry.get("state") == "Authenticated",
        token=str(entry.get("token", "")),
        started_at=_instant(entry.get("session_start")),
        ends_at=_instant(entry.get("session_end")),
        bytes_in=None if down is None else down * 1024,
        bytes_out=None if up is None else up * 1024,
        last_active=_instant(entry.get("last_active")),
    )


def parse_ndsctl_json(text: str) -> list[GatewaySession]:
    """``ndsctl json`` (every client) or ``ndsctl json IP`` (one client, or ``{}``)."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        raise GatewayError(f"ndsctl json gave no JSON: {text[:120]!r}") from None
    if not isinstance(document, dict):
        raise GatewayError("ndsctl json gave no object")
    clients = document.get("clients")
    entries = list(clients.values()) if isinstance(clients, dict) else [document]
    return [
        session_from_ndsctl(entry)
        for entry in entries
        if isinstance(entry, dict) and entry.get("mac")
    ]


# --- recording ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    action: str  # "authorise" | "deauthorise"
    mac: str
    ip: str
    at: datetime
    redirect_url: str = ""
    limits: ClientLimits = NO_LIMITS


class RecordingGateway:
    """Keeps decisions in memory instead of touching a firewall; `admit` stands in for
    openNDS intercepting a client (it makes the client known, preauthenticated)."""

    def __init__(self, clock: Clock, *, trust_unknown: bool = False) -> None:
        self._clock = clock
        # In the demo each web server worker builds its own recording gateway, so none
        # has seen the client: trust well-formed clients there (never in production).
        self._trust_unknown = trust_unknown
        self._lock = threading.Lock()
        self._sessions: dict[str, GatewaySession] = {}
        self.decisions: list[Decision] = []

    def admit(self, mac: str, ip: str, token: str) -> None:
        with self._lock:
            self._sessions[normalise_mac(mac)] = GatewaySession(
                mac=normalise_mac(mac), ip=ip, authenticated=False, token=token
            )

    def warm(self, client: FasClient) -> None:
        pass  # it knows its clients already

    def verify(self, client: FasClient) -> bool:
        with self._lock:
            session = self._sessions.get(client.client_mac)
        if session is None and self._trust_unknown:
            return True
        return (
            session is not None
            and session.ip == client.client_ip
            and hid_matches_token(client.hid, session.token)
        )

    def authorise(
        self, client: FasClient, redirect_url: str, limits: ClientLimits = NO_LIMITS
    ) -> str:
        now = self._clock.now()
        with self._lock:
            current = self._sessions.get(client.client_mac) or GatewaySession(
                mac=client.client_mac, ip=client.client_ip, authenticated=False
            )
            if not current.authenticated:
                current = replace(
                    current, authenticated=True, started_at=now, bytes_in=0, bytes_out=0
                )
            self._sessions[client.client_mac] = current
            self.decisions.append(
                Decision(
                    "authorise", client.client_mac, client.client_ip, now, redirect_url, limits
                )
            )
        return redirect_url

    def deauthorise(self, mac: str) -> bool:
        mac = normalise_mac(mac)
        with self._lock:
            session = self._sessions.pop(mac, None)
            if session is None:
                return False
            self.decisions.append(Decision("deauthorise", mac, session.ip, self._clock.now()))
        return True

    def add_traffic(self, mac: str, bytes_in: int, bytes_out: int) -> None:
        with self._lock:
            session = self._sessions[normalise_mac(mac)]
            self._sessions[session.mac] = replace(
                session,
                bytes_in=(session.bytes_in or 0) + bytes_in,
                bytes_out=(session.bytes_out or 0) + bytes_out,
            )

    def sessions(self) -> list[GatewaySession]:
        with self._lock:
            return list(self._sessions.values())

    def session_for_ip(self, ip: str) -> GatewaySession | None:
        with self._lock:
            return next((s for s in self._sessions.values() if s.ip == ip), None)
