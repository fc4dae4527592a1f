"""Visitors' requests to openNDS, queued for the one control connection it serves.

openNDS answers one control request at a time and refuses the rest (issues 552, 715), so
every web thread calling it at once would fail or queue blindly. Here one thread per
process drains a bounded queue:

- look-ups (is this client known, with which token?) are coalesced: however many visitors
  wait, one ``status`` request (every client) answers them all;
- authorisations go one after another, each with its visitor's limits;
- a full queue refuses at once (`GatewayBusy`, back-pressure) and a visitor waits at
  most `max_wait_s`; the wait is measured by the caller and reported with the accept.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

Control = Callable[[str], str]  # one control request -> openNDS's answer


class GatewayError(Exception):
    """The gateway could not be reached or refused the request."""


class GatewayBusy(GatewayError):
    """Too many visitors are waiting, or this one waited too long: try again shortly."""


@dataclass
class _Job:
    request: str  # LOOKUP or an "auth ..." line
    on_answer: Callable[[str], None] | None = None  # a prefetch: nobody waits for it
    done: threading.Event = field(default_factory=threading.Event)
    answer: str = ""
    error: GatewayError | None = None
    abandoned: bool = False


# The one look-up: every client with its token and state (`portal.gateway.parse_ndsctl_status`).
LOOKUP = "status"

# Authorisations run between look-up rounds, so a visitor loading the splash is never
# stuck behind a long row of accepts.
_AUTHS_PER_ROUND = 8


class Admission:
    def __init__(
        self,
        control: Control,
        *,
        max_waiting: int = 256,
        max_wait_s: float = 10.0,
    ) -> None:
        self._control = control
        self._max_waiting = max_waiting
        self.max_wait_s = max_wait_s
        self._lock = threading.Condition()
        self._lookups: list[_Job] = []
        self._auths: deque[_Job] = deque()
        self._thread: threading.Thread | None = None

    def lookup(self) -> str:
        """Every client (`LOOKUP`), shared with whoever else is waiting for one."""
        return self._wait(self._enqueue(_Job(LOOKUP), self._lookups.append))

    def prefetch(self, on_answer: Callable[[str], None]) -> None:
        """A look-up nobody waits for (the splash warming the verify cache); dropped
        when the queue is full or one is already pending."""
        with self._lock:
            if any(job.on_answer is not None for job in self._lookups):
                return
        with contextlib.suppress(GatewayBusy):
            self._enqueue(_Job(LOOKUP, on_answer=on_answer), self._lookups.append)

    def authorise(self, request: str) -> str:
        return self._wait(self._enqueue(_Job(request), self._auths.append))

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._lookups) + len(self._auths)

    def _enqueue(self, job: _Job, add: Callable[[_Job], None]) -> _Job:
        with self._lock:
            if len(self._lookups) + len(self._auths) >= self._max_waiting:
                raise GatewayBusy(f"{self._max_waiting} visitors already waiting for openNDS")
            add(job)
            if self._thread is None or not self._thread.is_alive():
                # Started on first use: after a fork (Granian's workers), in the child.
                self._thread = threading.Thread(target=self._drain, name="admission", daemon=True)
                self._thread.start()
            self._lock.notify()
        return job

    def _wait(self, job: _Job) -> str:
        if not job.done.wait(self.max_wait_s):
            with self._lock:
                job.abandoned = True
            raise GatewayBusy(f"openNDS did not answer within {self.max_wait_s:g} s")
        if job.error is not None:
            raise job.error
        return job.answer

    def _next_round(self) -> tuple[list[_Job], list[_Job]]:
        with self._lock:
            while not self._lookups and not self._auths:
                self._lock.wait()
            lookups, self._lookups = self._lookups, []
            auths = [self._auths.popleft() for _ in range(min(_AUTHS_PER_ROUND, len(self._auths)))]
        return [j for j in lookups if not j.abandoned], [j for j in auths if not j.abandoned]

    def _run(self, request: str) -> tuple[str, GatewayError | None]:
        try:
            return self._control(request), None
        except GatewayError as error:
            return "", error
        except Exception as error:  # one bad answer must not stop the queue
            log.exception("openNDS control request failed")
            return "", GatewayError(str(error))

    def _drain(self) -> None:
        while True:
            lookups, auths = self._next_round()
            if lookups:
                started = time.monotonic()
                answer, error = self._run(LOOKUP)
                took_s = time.monotonic() - started
                log.debug("one status for %d look-ups in %.3f s", len(lookups), took_s)
                for job in lookups:
                    job.answer, job.error = answer, error
                    job.done.set()
                    if job.on_answer is not None and error is None:
                        job.on_answer(answer)
            for job in auths:
                job.answer, job.error = self._run(job.request)
                job.done.set()
