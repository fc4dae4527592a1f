"""The Wi-Fi gateway behind one small interface: openNDS (production) and a recording
gateway (demo and tests).

openNDS (`portal.opennds`) is driven through its control socket: ``status`` to read the
clients, ``auth`` and ``deauth`` by each client's gateway token. This module holds the
interface, the parsing of openNDS's answers, and the recording gateway.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
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


# ``ndsctl status`` is read rather than ``json``: openNDS 9.10 builds each client's json
# entry by running a shell script (get_client_interface), so ``json`` costs a process per
# client (3.4 s for 50 clients here, holding the one control connection), while
# ``status`` prints the same client list after one counter read (0.12 s for 50).
_CLIENT_HEADER = re.compile(r"Client \d+")
_ADDRESSES = re.compile(r"IP: (\S+) MAC: (\S+)")
_DURATION = re.compile(r"\((-?)(?:(\d+)d )?(?:(\d+)h )?(?:(\d+)m )?(\d+)s (ago|left)\)")
_KILOBYTES = re.compile(r"(\d+) kB;")


def _instant_of(value: str, now: datetime) -> datetime | None:
    """ "Thu Dec 03 10:25:16 2026 (1h 29m 58s left)" -> now + 1:29:58. The relative part
    is read, not the local-time text: it needs no time zone and has no DST fold."""
    found = _DURATION.search(value)
    if found is None:
        return None
    negative, days, hours, minutes, seconds, direction = found.groups()
    span = timedelta(
        days=int(days or 0), hours=int(hours or 0), minutes=int(minutes or 0), seconds=int(seconds)
    )
    if negative:
        span = -span
    return now - span if direction == "ago" else now + span


def _kilobytes(value: str) -> int | None:
    found = _KILOBYTES.match(value)
    return None if found is None else int(found.group(1)) * 1024  # openNDS's kB is 1024 B


def _session_from_status(fields: dict[str, str], now: datetime) -> GatewaySession | None:
    addresses = _ADDRESSES.fullmatch(fields.get("IP", ""))
    if addresses is None:
        return None
    return GatewaySession(
        mac=normalise_mac(addresses.group(2)),
        ip=addresses.group(1),
        authenticated=fields.get("State") == "Authenticated",
        token=fields.get("Token", ""),
        started_at=_instant_of(fields.get("Session Start", ""), now),
        ends_at=_instant_of(fields.get("Session End", ""), now),
        bytes_in=_kilobytes(fields.get("Download this session", "")),
        bytes_out=_kilobytes(fields.get("Upload this session", "")),
        last_active=_instant_of(fields.get("Last Activity", ""), now),
    )


def parse_ndsctl_status(text: str, now: datetime) -> list[GatewaySession]:
    """Every client in ``ndsctl status`` (openNDS 9.10's layout), its times anchored on
    `now`, the moment the answer came (openNDS prints them relative to its own now)."""
    if "openNDS Status" not in text:
        raise GatewayError(f"ndsctl status gave no status: {text[:120]!r}")
    clients: list[dict[str, str]] = []
    for line in text.splitlines():
        if _CLIENT_HEADER.fullmatch(line):
            clients.append({})
        elif line.startswith("====") and clients:
            break  # the trusted MACs and walled garden follow the client list
        elif clients and line.startswith("  "):
            key, _, value = line.strip().partition(":")
            # "IP: a MAC: b" keeps its whole text; the rest are "Key: value".
            clients[-1][key] = line.strip() if key == "IP" else value.strip()
    sessions = (_session_from_status(fields, now) for fields in clients)
    return [session for session in sessions if session is not None]


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
