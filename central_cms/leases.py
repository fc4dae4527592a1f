"""Job leases: of several CMS processes ticking the same job, one runs it per interval."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Generic, TypeVar

from sqlalchemy import or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from central_cms import models as m

if TYPE_CHECKING:
    from central_cms.runtime import CmsRuntime

log = logging.getLogger(__name__)
Outcome = TypeVar("Outcome")


def take_lease(session: Session, job: str, holder: str, now: datetime, lease: timedelta) -> bool:
    """Whether `holder` now holds `job`'s lease until now + lease (commits).

    One atomic UPDATE: on PostgreSQL a second process waits on the row lock and then
    re-checks `expires_at`, so two processes ticking at once never both win."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(m.JobLease)
        .values(name=job, holder="", last_published=0)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    won = session.execute(
        update(m.JobLease)
        .where(m.JobLease.name == job)
        .where(or_(m.JobLease.expires_at.is_(None), m.JobLease.expires_at <= now))
        .values(holder=holder, expires_at=now + lease)
        .returning(m.JobLease.name)
    ).first()
    session.commit()
    return won is not None


class PeriodicJob:
    """A job this process ticks every `interval` on a daemon thread. Subclasses give
    `tick` (one round, behind the job's lease) and `thread_name`."""

    thread_name = "cms-job"

    def __init__(self, interval: timedelta) -> None:
        self.interval = interval
        # Readable in the lease row: which host and process holds it.
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> object:
        raise NotImplementedError

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 30) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # a database outage must not end the job for good
                log.exception("%s tick failed", self.thread_name)
            self._stop.wait(self.interval.total_seconds())


class SessionJob(PeriodicJob, Generic[Outcome]):
    """A `PeriodicJob` whose round (`run`) works in a database session of its own, closed
    after the round whatever happens."""

    def __init__(
        self, sessions: sessionmaker[Session], rt: CmsRuntime, interval: timedelta
    ) -> None:
        super().__init__(interval)
        self._sessions = sessions
        self._rt = rt

    def tick(self) -> Outcome:
        session = self._sessions()
        try:
            return self.run(session)
        finally:
            session.close()

    def run(self, session: Session) -> Outcome:
        raise NotImplementedError
