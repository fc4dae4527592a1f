"""Watching the gateway's sessions: session-ended analytics, the session limit, and
deauthorising one visitor on the CMS's command.

The monitor polls the gateway (``ndsctl status``) from the node process, never from a web
worker. It enforces the manifest's ``session_minutes`` itself with the injected clock, so
the limit follows the CMS even though openNDS's own ``sessiontimeout`` is fixed at start.
The site's idle timeout (issue 16) is enforced the same way: a session whose traffic
counters have not moved for that long is ended ("idle"), as openNDS's ``authidletimeout``
would, but without restarting openNDS when the CMS changes it.
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
    active_at: datetime  # when its traffic counters last moved, on the node's clock


def _no_idle_limit() -> int | None:
    return None


class SessionMonitor:
    def __init__(
        self,
        gateway: Gateway,
        recorder: Recorder,
        *,
        secret: bytes,
        clock: Clock,
        session_minutes: Callable[[], int],
        idle_minutes: Callable[[], int | None] = _no_idle_limit,
        observe: Callable[[list[GatewaySession]], None] = lambda sessions: None,
    ) -> None:
        self._gateway = gateway
        self._recorder = recorder
        self._secret = secret
        self._clock = clock
        self._session_minutes = session_minutes
        self._idle_minutes = idle_minutes
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
        idle = self._idle_minutes()
        idle_limit = timedelta(minutes=idle) if idle else None
        with self._lock:
            for mac, session in current.items():
                tracked = self._tracked.get(mac)
                if tracked is None:
                    # The node's clock, not openNDS's session_start: the limit and the
                    # duration are both measured on the clock the tests (and NTP) control.
                    self._tracked[mac] = _Tracked(now, session, now)
                else:
                    if (session.bytes_in, session.bytes_out) != (
                        tracked.last.bytes_in,
                        tracked.last.bytes_out,
                    ):
                        tracked.active_at = now
                    tracked.last = session
            for mac in list(self._tracked):
                if mac not in current:
                    self._end(mac, now, "ended")
                elif now - self._tracked[mac].started_at >= limit:
                    log.info("session limit of %s reached, deauthorising", limit)
                    self._gateway.deauthorise(mac)
                    self._end(mac, now, "expired")
                elif idle_limit is not None and now - self._tracked[mac].active_at >= idle_limit:
                    log.info("idle for %s, deauthorising", idle_limit)
                    self._gateway.deauthorise(mac)
                    self._end(mac, now, "idle")

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
                    tracked = self._tracked.setdefault(session.mac, _Tracked(now, session, now))
                    tracked.last = session
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
