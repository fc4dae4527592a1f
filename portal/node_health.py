"""A portal node's Wi-Fi figures for IT's fleet view (issue 16): visitors online,
visitors let online, accepts refused and data quotas used up, counted between two
health samples. Pure apart from a lock: the node feeds it what its web workers relay
and what the session monitor sees, the agent takes a sample once per health interval.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from devices.protocol import PortalHealth
from portal.gateway import GatewaySession

# What a web worker relays when an accept is refused (expired, replayed, unknown device).
ACCEPT_FAILED = "accept_failed"
MB = 1_000_000


@dataclass(frozen=True)
class Quota:
    """A visitor's data quota per session, in bytes; None: no limit."""

    download_bytes: int | None = None
    upload_bytes: int | None = None

    def reached(self, session: GatewaySession) -> bool:
        return bool(
            (self.download_bytes and (session.bytes_in or 0) >= self.download_bytes)
            or (self.upload_bytes and (session.bytes_out or 0) >= self.upload_bytes)
        )


class PortalFigures:
    def __init__(self, monotonic: Callable[[], float]) -> None:
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._since = monotonic()
        self._online = 0
        self._authorisations = 0
        self._failures = 0
        self._quota_hits = 0
        self._over_quota: set[str] = set()  # MACs counted for this session already

    def authorised(self) -> None:
        with self._lock:
            self._authorisations += 1

    def failed(self) -> None:
        with self._lock:
            self._failures += 1

    def observe(self, sessions: Sequence[GatewaySession], quota: Quota) -> None:
        """One look at the gateway's sessions: who is online, who used up a quota (once
        per session: a session that reached it counts when it is first seen so)."""
        online = {s.mac: s for s in sessions if s.authenticated}
        with self._lock:
            self._online = len(online)
            for mac, session in online.items():
                if mac not in self._over_quota and quota.reached(session):
                    self._over_quota.add(mac)
                    self._quota_hits += 1
            self._over_quota &= online.keys()

    def sample(self) -> PortalHealth:
        """The figures since the previous sample; the counts start again from zero."""
        with self._lock:
            now = self._monotonic()
            figures = PortalHealth(
                visitors_online=self._online,
                window_s=max(now - self._since, 1e-3),
                authorisations=self._authorisations,
                failures=self._failures,
                quota_hits=self._quota_hits,
            )
            self._since = now
            self._authorisations = self._failures = self._quota_hits = 0
            return figures
