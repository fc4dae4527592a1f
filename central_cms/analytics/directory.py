"""The device directory: which devices exist, their site, kind, time zone and published
manifest, copied from the CMS database into the analytics fleet store so the ingest files
events under their site and the alert rules know what each device should run.

The copy is made where that data changes: after any commit that wrote a device, a site
or a manifest state (`watch_directory`), and once at start-up; never from a page view.
"""

from __future__ import annotations

import logging

from sqlalchemy import event, select
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from central_cms import models as m
from central_cms.analytics.model import DeviceInfo
from central_cms.analytics.ports import FleetStore
from central_cms.analytics.presenters import Names

log = logging.getLogger(__name__)

# What the directory is made of: a write to any of these changes it.
_DIRECTORY_MODELS = (m.Device, m.Site, m.ManifestState)
_CHANGED = "ds_directory_changed"


def directory(session: Session) -> list[DeviceInfo]:
    """Every CMS device as the analytics store knows it."""
    sites = {s.id: s for s in session.scalars(select(m.Site))}
    states = {s.device_id: s for s in session.scalars(select(m.ManifestState))}
    infos = []
    for device in session.scalars(select(m.Device)):
        state = states.get(device.id)
        site = sites.get(device.site_id)
        infos.append(
            DeviceInfo(
                device_id=device.id,
                site_id=device.site_id,
                kind=device.kind,
                timezone=site.timezone if site else "UTC",
                name=device.name,
                expected_manifest_version=state.version if state and state.version else None,
                manifest_published_at=state.published_at if state else None,
            )
        )
    return infos


def read_names(session: Session) -> Names:
    """Site and campaign names for the pages, and the report zone (UTC for a mixed city)."""
    # Columns, not models: thousands of campaigns, and only their names are needed.
    sites = session.execute(select(m.Site.id, m.Site.name, m.Site.timezone)).all()
    campaigns = {i: name for i, name in session.execute(select(m.Campaign.id, m.Campaign.name))}
    zones = sorted({timezone for _, _, timezone in sites})
    return Names(
        sites={site_id: name for site_id, name, _ in sites},
        campaigns=campaigns,
        timezone=zones[0] if len(zones) == 1 else "UTC",
    )


def sync_directory(session: Session, fleet: FleetStore) -> None:
    """Tell the fleet store about every device and site now."""
    infos = directory(session)
    if infos:
        fleet.register_devices(infos)


def watch_directory(sessions: sessionmaker[Session], fleet: FleetStore) -> None:
    """Copy the directory into `fleet` after each commit of `sessions` that changed it."""

    def touches(session: Session) -> bool:
        return any(
            isinstance(obj, _DIRECTORY_MODELS)
            for obj in (*session.new, *session.dirty, *session.deleted)
        )

    @event.listens_for(sessions, "before_flush")
    def _before_flush(session: Session, _context: object, _instances: object) -> None:
        if touches(session):
            session.info[_CHANGED] = True

    @event.listens_for(sessions, "do_orm_execute")
    def _bulk(state: ORMExecuteState) -> None:
        # update(m.ManifestState)... statements bypass the unit of work.
        mapper = state.bind_mapper
        if (state.is_update or state.is_delete or state.is_insert) and (
            mapper is not None and issubclass(mapper.class_, _DIRECTORY_MODELS)
        ):
            state.session.info[_CHANGED] = True

    @event.listens_for(sessions, "after_rollback")
    def _after_rollback(session: Session) -> None:
        session.info.pop(_CHANGED, None)

    @event.listens_for(sessions, "after_commit")
    def _after_commit(session: Session) -> None:
        if not session.info.pop(_CHANGED, False):
            return
        # The committed session cannot run SQL here: read with a fresh one.
        try:
            with sessions() as reader:
                sync_directory(reader, fleet)
        except Exception:
            # The CMS change stands; the next directory change or restart copies it.
            log.exception("copying the device directory into the analytics store failed")
