"""QR code scans on the staff analytics page: read from the CMS database, where /l/<code>
counts them (central_cms/link_tracking.py), and shown per campaign, site and screen."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from central_cms import link_tracking
from central_cms import models as m
from central_cms.analytics.model import Filters
from central_cms.analytics.presenters import Names
from central_cms.link_tracking import ScanCount


@dataclass(frozen=True)
class ScanRow:
    campaign: str
    site: str
    screen: str
    scans: int


def scan_rows(
    counts: Iterable[ScanCount], names: Names, screens: Mapping[str, str]
) -> list[ScanRow]:
    """Staff's names for each count, most scanned campaign first, then by name."""
    rows = [
        ScanRow(
            names.campaign(c.campaign_id),
            names.site(c.site_id),
            screens.get(c.device_id) or c.device_id,
            c.scans,
        )
        for c in counts
    ]
    per_campaign: dict[str, int] = {}
    for row in rows:
        per_campaign[row.campaign] = per_campaign.get(row.campaign, 0) + row.scans
    return sorted(rows, key=lambda r: (-per_campaign[r.campaign], r.campaign, r.site, r.screen))


def scans_for(session: Session, filters: Filters, names: Names) -> list[ScanRow]:
    counts = link_tracking.scan_counts(
        session,
        filters.start,
        filters.end,
        names.timezone,
        site_id=filters.site_id,
        campaign_id=filters.campaign_id,
    )
    if not counts:
        return []
    ids = {c.device_id for c in counts}
    query = select(m.Device.id, m.Device.name).where(m.Device.id.in_(ids))
    screens = {device_id: name for device_id, name in session.execute(query)}
    return scan_rows(counts, names, screens)
