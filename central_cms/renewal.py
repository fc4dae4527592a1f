"""Manifest renewal: the CMS keeps every device's manifest inside its horizon by itself.

A manifest holds the campaigns active up to its `valid_until` (the horizon, 14 days). A
campaign published today for five weeks ahead enters a device's horizon only when the
device is recompiled later, and nothing recompiled it unless someone ran `cms sync`
(issue 13, point 3). Every CMS process (each gunicorn worker, the demo) runs a
`ManifestRenewer`: every few minutes it ticks, and the one process holding the lease
row recompiles. The lease expires after one interval, so a crashed holder costs one
interval at most, and each interval exactly one process renews.

What a tick recompiles: every device once per UTC day (the compile window moves by whole
days, so that is when a campaign can enter it), and in between only devices whose
manifest is due for renewal (under half the horizon left). `sync_manifests` publishes
only what changed or is due, so a day's first tick publishes nothing for most devices.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from central_cms import models as m
from central_cms.leases import SessionJob, take_lease
from central_cms.manifests import sync_manifests
from central_cms.runtime import CmsRuntime

log = logging.getLogger(__name__)

JOB = "manifest-renewal"


@dataclass(frozen=True)
class RenewalRun:
    """What one tick that held the lease did."""

    at: datetime
    full: bool  # recompiled every device, not only those due
    recompiled: int
    published: int


def _due_devices(session: Session, renew_before: datetime) -> list[str]:
    """Devices with no manifest yet, or one with under half its horizon left."""
    rows = session.execute(
        select(m.Device.id)
        .outerjoin(m.ManifestState, m.ManifestState.device_id == m.Device.id)
        .where(
            or_(
                m.ManifestState.device_id.is_(None),
                m.ManifestState.valid_until.is_(None),
                m.ManifestState.valid_until < renew_before,
            )
        )
    ).all()
    return [str(row[0]) for row in rows]


def renew_manifests(
    session: Session, rt: CmsRuntime, holder: str, interval: timedelta
) -> RenewalRun | None:
    """One tick: None if another process holds the lease, else what was renewed."""
    now = rt.clock.now()
    if not take_lease(session, JOB, holder, now, interval):
        return None
    lease = session.get(m.JobLease, JOB)
    assert lease is not None
    last_full = lease.last_full_run_at
    full = last_full is None or last_full.astimezone(UTC).date() != now.astimezone(UTC).date()
    horizon = timedelta(days=rt.config.manifest_horizon_days)
    device_ids = None if full else _due_devices(session, now + horizon / 2)
    session.rollback()
    try:
        report = sync_manifests(session, rt, device_ids) if device_ids != [] else None
    except Exception as error:
        session.rollback()
        log.exception("manifest renewal failed; the next tick retries")
        session.execute(
            update(m.JobLease)
            .where(m.JobLease.name == JOB)
            .values(last_run_at=now, last_error=f"{type(error).__name__}: {error}"[:500])
        )
        session.commit()
        return None
    published = len(report.published) if report else 0
    recompiled = published + len(report.unchanged) if report else 0
    session.execute(
        update(m.JobLease)
        .where(m.JobLease.name == JOB)
        .values(
            last_run_at=now,
            last_published=published,
            last_error=None,
            **({"last_full_run_at": now} if full else {}),
        )
    )
    session.commit()
    if full or published:
        log.info(
            "manifest renewal: recompiled %d devices, published %d (%s)",
            recompiled,
            published,
            "daily" if full else "due for renewal",
        )
    return RenewalRun(at=now, full=full, recompiled=recompiled, published=published)


def last_renewal(session: Session) -> m.JobLease | None:
    """The renewal job's row (when it last ran, what it published), for the devices page."""
    return session.get(m.JobLease, JOB)


class ManifestRenewer(SessionJob[RenewalRun | None]):
    """Ticks `renew_manifests` every `interval` on a daemon thread of this process."""

    thread_name = "cms-renewal"

    def run(self, session: Session) -> RenewalRun | None:
        return renew_manifests(session, self._rt, self.holder, self.interval)
