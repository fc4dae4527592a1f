"""The openNDS gateway: every request goes through one `Admission` queue per process to
openNDS's control socket (`portal.ndsctl.NdsctlSocket`) or, where the socket is not
reachable, through the ``ndsctl`` command (`CommandControl`).

A visitor is authorised server-side with ``ndsctl auth TOKEN minutes up down upquota
downquota`` (issue 16: per-visitor limits from the site's Wi-Fi policy), and the browser
then goes straight to where it was going. The FAS ``tok`` link (`portal.fas.auth_target`)
cannot carry limits at FAS levels 1-2, so it is no longer used for authorising.

Clients are named to openNDS by their 8-character gateway token, never by IP or MAC:
openNDS 9.10 looks any longer name up as a hash id first, running a shell pipeline
(``printf | sha256sum | awk``) for every client it knows, so each ``auth IP`` cost one
process per client on the network (about 0.2 s per auth with 50 phones, one auth at a
time), and 50 phones joining at once took 26 s. A token is compared in memory. The token
comes from the ``status`` look-up that verified the visitor.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from portal.admission import Admission, GatewayBusy, GatewayError
from portal.fas import FasClient, hid_matches_token
from portal.gateway import GatewaySession, parse_ndsctl_status
from portal.privacy import normalise_mac
from portal.wifi_policy import NO_LIMITS, ClientLimits, ndsctl_auth

log = logging.getLogger(__name__)

Runner = Callable[[Sequence[str], float], str]
# How old a look-up may be to verify an accept by (only a match counts; a miss asks again).
VERIFY_CACHE_S = 120.0


def run_command(argv: Sequence[str], timeout_s: float) -> str:
    try:
        done = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise GatewayError(f"{argv[0]}: {error}") from None
    if done.returncode != 0:
        raise GatewayError(
            f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()[:200]}"
        )
    return done.stdout


class CommandControl:
    """Control requests as ``ndsctl`` command lines ("auth a,b,c" -> ndsctl auth a b c)."""

    def __init__(
        self, ndsctl: Sequence[str], runner: Runner = run_command, timeout_s: float = 30.0
    ) -> None:
        self._ndsctl = tuple(ndsctl)
        self._run = runner
        self._timeout_s = timeout_s

    def __call__(self, request: str) -> str:
        verb, _, rest = request.partition(" ")
        args = rest.split(",") if verb == "auth" else ([rest] if rest else [])
        if verb == "auth":
            args = args[:6]  # the custom string (last) is left out when empty
            while args and args[-1] == "":
                args.pop()
            # ndsctl's "null" (global setting) is an empty argument: `ndsctl auth IP "" 2000`
        out = self._run((*self._ndsctl, verb, *args), self._timeout_s)
        return "Yes" if verb in ("auth", "deauth") and "authenticated" in out.lower() else out


class OpenNDSGateway:
    def __init__(
        self,
        control: Callable[[str], str],
        *,
        admission: Admission | None = None,
        cache_s: float = 2.0,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._control = control
        self.admission = admission or Admission(control)
        self._cache_s = cache_s
        self._monotonic = monotonic
        self._wall_clock = wall_clock
        self._cache: dict[str, tuple[float, GatewaySession | None]] = {}
        self._lock = threading.Lock()

    def _fresh_sessions(self) -> list[GatewaySession]:
        """Every client, from one coalesced ``status``; fills the per-IP cache."""
        return self._remember(self.admission.lookup())

    def _remember(self, answer: str) -> list[GatewaySession]:
        sessions = parse_ndsctl_status(answer, self._wall_clock())
        now = self._monotonic()
        with self._lock:
            if len(self._cache) > 4096:
                self._cache.clear()
            for session in sessions:
                self._cache[session.ip] = (now, session)
        return sessions

    def _client(self, ip: str) -> GatewaySession | None:
        return next((s for s in self._fresh_sessions() if s.ip == ip), None)

    def _cached(self, ip: str, max_age_s: float) -> GatewaySession | None:
        with self._lock:
            cached = self._cache.get(ip)
        if cached and self._monotonic() - cached[0] < max_age_s:
            return cached[1]
        return None

    def warm(self, client: FasClient) -> None:
        """The visitor is reading the splash: learn its token now, so its accept need
        not wait for a look-up behind everyone else's (issue 16)."""
        if self._cached(client.client_ip, VERIFY_CACHE_S) is None:
            self.admission.prefetch(self._on_prefetch)

    def _on_prefetch(self, answer: str) -> None:
        try:
            self._remember(answer)
        except GatewayError as error:
            log.info("prefetched client list unreadable: %s", error)

    def _matches(self, session: GatewaySession | None, client: FasClient) -> bool:
        return (
            session is not None
            and session.mac == client.client_mac
            and hid_matches_token(client.hid, session.token)
        )

    def verify(self, client: FasClient) -> bool:
        """From a recent look-up when it matches (a token stays while the client waits
        at the splash), else a fresh one. When openNDS cannot answer, GatewayBusy (the
        visitor is asked to tap again); False only when openNDS says no."""
        if self._matches(self._cached(client.client_ip, VERIFY_CACHE_S), client):
            return True
        try:
            session = self._client(client.client_ip)
        except GatewayBusy:
            raise
        except GatewayError as error:
            # openNDS did not answer usefully (a garbled or timed-out status under load):
            # not the visitor's fault, so they are asked to tap again, not turned away.
            log.warning("cannot verify client with openNDS: %s", error)
            raise GatewayBusy(f"cannot verify with openNDS: {error}") from None
        return self._matches(session, client)

    def authorise(
        self, client: FasClient, redirect_url: str, limits: ClientLimits = NO_LIMITS
    ) -> str:
        """Authorise the session `verify` matched, by its token."""
        session = self._cached(client.client_ip, VERIFY_CACHE_S)
        if session is None or not self._matches(session, client):
            session = self._client(client.client_ip)
        if session is None or not self._matches(session, client):
            raise GatewayError(f"openNDS does not know {client.client_ip} as this visitor")
        answer = self.admission.authorise(ndsctl_auth(session.token, limits))
        with self._lock:
            self._cache.pop(client.client_ip, None)
        if answer.strip() != "Yes" and not self._already_online(client.client_ip):
            raise GatewayError(f"openNDS refused to authorise {client.client_ip}: {answer[:80]}")
        return redirect_url

    def _already_online(self, ip: str) -> bool:
        """openNDS says "No" to a client it has authorised already: a tap again after an
        answer that came too late for the first one."""
        session = self._client(ip)
        return session is not None and session.authenticated

    def deauthorise(self, mac: str) -> bool:
        mac = normalise_mac(mac)
        cached = self._cached_mac(mac)
        if cached is not None and self._deauth(cached):
            return True
        # Not seen lately, or its token changed since (openNDS gives a new one each
        # session): ask openNDS for the client as it is now.
        tried = cached.token if cached is not None else ""
        fresh = next((s for s in self._fresh_sessions() if s.mac == mac), None)
        return fresh is not None and fresh.token != tried and self._deauth(fresh)

    def _deauth(self, session: GatewaySession) -> bool:
        if not session.token:
            return False
        try:
            out = self._control(f"deauth {session.token}")
        except GatewayError as error:
            log.info("ndsctl deauth %s refused: %s", session.mac, error)
            return False
        with self._lock:
            self._cache.clear()
        return out.strip() == "Yes"

    def _cached_mac(self, mac: str) -> GatewaySession | None:
        """The session last seen for `mac` (its token stays until it is deauthorised)."""
        with self._lock:
            return next(
                (s for _, s in self._cache.values() if s is not None and s.mac == mac), None
            )

    def sessions(self) -> list[GatewaySession]:
        return self._fresh_sessions()

    def session_for_ip(self, ip: str) -> GatewaySession | None:
        now = self._monotonic()
        with self._lock:
            cached = self._cache.get(ip)
            if cached and now - cached[0] < self._cache_s:
                return cached[1]
        try:
            session = self._client(ip)
        except GatewayError as error:
            log.warning("ndsctl status for %s failed: %s", ip, error)
            session = None
        with self._lock:
            self._cache[ip] = (now, session)
        return session
