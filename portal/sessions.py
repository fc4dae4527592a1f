"""Watching the gateway's sessions: session-ended analytics, the session limit, and
deauthorising one visitor on the CMS's command.

The monitor polls the gateway (``ndsctl json``) from the node process, never from a web
worker. It enforces the manifest's ``session_minutes`` itself with the injected clock, so
the limit follows the CMS even though openNDS's own ``sessiontimeout`` is fixed at start.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from devices.clock import Clock
from devices.protocol import SessionEndedData
from portal.gateway import Gateway, GatewayError, GatewaySession
from portal.privacy import client_hash
from portal.sources import Recorder

log = logging.getLogger(__name__)


@dataclass
class _Tracked:
    started_at: datetime
    last: GatewaySession


class SessionMonitor:
    def __init__(
        self,
        gateway: Gateway,
        recorder: Recorder,
        *,
        secret: bytes,
        clock: Clock,
        session_minutes: Callable[[], int],
        observe: Callable[[list[GatewaySession]], None] = lambda sessions: None,
    ) -> None:
        self._gateway = gateway
        self._recorder = recorder
        self._secret = secret
        self._clock = clock
        self._session_minutes = session_minutes
        self._observe = observe  # the node's health figures see each look (issue 16)
        self._tracked: dict[str, _Tracked] = {}
        self._lock = threading.Lock()

    def poll(self) -> None:
        """One look at the gateway: end what vanished, expire what ran too long."""
        now = self._clock.now()
        try:
            sessions = self._gateway.sessions()
        except GatewayError as error:
            log.warning("cannot read gateway sessions: %s", error)
            return
        self._observe(sessions)
        current = {s.mac: s for s in sessions if s.authenticated}
        limit = timedelta(minutes=self._session_minutes())
        with self._lock:
            for mac, session in current.items():
                tracked = self._tracked.get(mac)
                if tracked is None:
                    # The node's clock, not openNDS's session_start: the limit and the
                    # duration are both measured on the clock the tests (and NTP) control.
                    self._tracked[mac] = _Tracked(now, session)
                else:
                    tracked.last = session
            for mac in list(self._tracked):
                if mac not in current:
                    self._end(mac, now, "ended")
                elif now - self._tracked[mac].started_at >= limit:
                    log.info("session limit of %s reached, deauthorising", limit)
                    self._gateway.deauthorise(mac)
                    self._end(mac, now, "expired")

    def deauthorise(self, reference: str) -> bool:
        """End the session of the client named by today's client hash or gateway token."""
        now = self._clock.now()
        try:
            sessions = self._gateway.sessions()
        except GatewayError as error:
            log.warning("cannot read gateway sessions: %s", error)
            return False
        for session in sessions:
            if not session.authenticated:
                continue
            if reference in (client_hash(self._secret, session.mac, now), session.token):
                done = self._gateway.deauthorise(session.mac)
                with self._lock:
                    self._tracked.setdefault(session.mac, _Tracked(now, session)).last = session
                    self._end(session.mac, now, "deauthorised")
                return done
        return False

    def _end(self, mac: str, now: datetime, reason: str) -> None:
        tracked = self._tracked.pop(mac, None)
        if tracked is None:
            return
        last = tracked.last
        self._recorder.record(
            SessionEndedData(
                # hashed with the start day, so it links to that day's splash and accept
                client_hash=client_hash(self._secret, mac, tracked.started_at),
                duration_s=max(0.0, (now - tracked.started_at).total_seconds()),
                bytes_in=last.bytes_in,
                bytes_out=last.bytes_out,
                reason=reason,
            )
        )
