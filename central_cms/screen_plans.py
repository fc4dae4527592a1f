"""What the week calendar and the screen preview read: each screen's manifest compiled
for a chosen span (from the same inputs and compiler as the published ones) and the
alerts that reach it. The decisions are made in central_cms/week_plan.py (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from central_cms import alerts as alert_service
from central_cms import models as m
from central_cms import snapshot
from central_cms.compiler import CampaignIndex, DeviceSpec, ManifestCompiler
from central_cms.runtime import CmsRuntime
from devices.protocol import ALL_SCOPE, Alert, Manifest


@dataclass(frozen=True)
class PlannedScreen:
    device: DeviceSpec
    name: str  # as staff named the screen; its id when unnamed
    manifest: Manifest
    alerts: tuple[Alert, ...]


def site_alerts(session: Session, site_id: str, start: datetime, end: datetime) -> list[Alert]:
    """The alerts that reach `site_id` at some instant in [start, end)."""
    rows = session.scalars(
        select(m.Alert)
        .where(or_(m.Alert.scope == ALL_SCOPE, m.Alert.scope == site_id))
        .where(m.Alert.cleared.is_(False), m.Alert.expires_at > start, m.Alert.issued_at < end)
        .order_by(m.Alert.issued_at)
    )
    return [alert_service.to_message(a) for a in rows]


def planned_screens(
    session: Session,
    rt: CmsRuntime,
    device_ids: Sequence[str],
    start: datetime,
    end: datetime,
) -> list[PlannedScreen]:
    """The screens' manifests as the CMS would compile them at `start`, valid past
    `end`, so every campaign and default of the span is in them."""
    devices = snapshot.load_devices(session, device_ids)
    if not devices:
        return []
    compiler = ManifestCompiler(
        snapshot.load_catalogue(session),
        CampaignIndex(snapshot.load_published(session, rt.config.public_url)),
    )
    names = {
        row.id: row.name
        for row in session.execute(
            select(m.Device.id, m.Device.name).where(m.Device.id.in_(device_ids))
        )
    }
    by_site: dict[str, list[Alert]] = {}
    planned = []
    for device in devices:
        if device.site_id not in by_site:
            by_site[device.site_id] = site_alerts(session, device.site_id, start, end)
        compiled = compiler.compile(device, generated_at=start, valid_until=end + timedelta(days=1))
        planned.append(
            PlannedScreen(
                device=device,
                name=names.get(device.id) or device.id,
                manifest=compiled.manifest,
                alerts=tuple(by_site[device.site_id]),
            )
        )
    session.rollback()
    return planned
