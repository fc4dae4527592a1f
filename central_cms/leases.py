"""Job leases: of several CMS processes ticking the same job, one runs it per interval."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from central_cms import models as m


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
