"""Short links in the database: issued with each published manifest, resolved and counted
at /l/<code> (central_cms/views/links.py), summed for the analytics page."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from central_cms import models as m
from central_cms.link_models import LinkScan, ShortLink
from central_cms.links import CODE_PATTERN, LinkPolicy
from devices.protocol import Manifest

log = logging.getLogger(__name__)
_CHUNK = 500  # rows per statement: well under SQLite's and PostgreSQL's parameter limits


def _insert(session: Session):  # type: ignore[no-untyped-def]
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _chunks(values: Sequence[dict[str, object]]) -> Iterator[Sequence[dict[str, object]]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def issue(session: Session, manifests: Iterable[Manifest], now: datetime) -> int:
    """Store the codes these manifests carry (once; a screen that moved site is updated)."""
    found: dict[str, dict[str, object]] = {}
    for manifest in manifests:
        for item in (*manifest.items, *manifest.default_items):
            if item.qr is None or not item.link_url:
                continue
            code = item.qr.url.rsplit("/l/", 1)[-1]
            found[code] = {
                "code": code,
                "item_id": item.id,
                "device_id": manifest.device_id,
                "site_id": manifest.site.id,
                "destination": item.link_url,
                "issued_at": now,
            }
    if not found:
        return 0
    # Default content carries no campaign id on the wire: every item knows its own.
    item_ids = sorted({str(row["item_id"]) for row in found.values()})
    campaign_of: dict[str, str] = {}
    for start in range(0, len(item_ids), _CHUNK):
        wanted = item_ids[start : start + _CHUNK]
        query = select(m.CampaignItem.id, m.CampaignItem.campaign_id).where(
            m.CampaignItem.id.in_(wanted)
        )
        campaign_of.update(
            {item_id: campaign_id for item_id, campaign_id in session.execute(query)}
        )
    rows = [
        {**row, "campaign_id": campaign_of[str(row["item_id"])]}
        for row in found.values()
        if str(row["item_id"]) in campaign_of
    ]
    insert = _insert(session)
    for chunk in _chunks(rows):
        statement = insert(ShortLink).values(list(chunk))
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["code"], set_={"site_id": statement.excluded.site_id}
            )
        )
    return len(rows)


@dataclass(frozen=True)
class Destination:
    link: ShortLink
    url: str


def resolve(session: Session, code: str, policy: LinkPolicy) -> Destination | None:
    """Where `code` leads now, or None: unknown, its campaign archived, or its destination
    no longer on the city's list (checked now, not when the code was issued)."""
    if not CODE_PATTERN.match(code):
        return None
    row = session.execute(
        select(ShortLink, m.Campaign.status)
        .join(m.Campaign, m.Campaign.id == ShortLink.campaign_id)
        .where(ShortLink.code == code)
    ).first()
    if row is None:
        return None
    link, status = row
    if status == m.CampaignStatus.ARCHIVED:
        return None
    if not policy.allows(link.destination):
        log.warning(
            "short link %s not followed: %s is no longer an allowed destination",
            code,
            link.destination,
        )
        return None
    return Destination(link, link.destination)


def count_scan(session: Session, link: ShortLink, now: datetime) -> None:
    hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    statement = _insert(session)(LinkScan).values(
        code=link.code,
        hour=hour,
        campaign_id=link.campaign_id,
        site_id=link.site_id,
        device_id=link.device_id,
        scans=1,
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["code", "hour"], set_={"scans": LinkScan.scans + 1}
        )
    )


@dataclass(frozen=True)
class ScanCount:
    campaign_id: str
    site_id: str
    device_id: str
    scans: int


def scan_counts(
    session: Session,
    start: date,
    end: date,
    timezone: str,
    *,
    site_id: str | None = None,
    campaign_id: str | None = None,
) -> list[ScanCount]:
    """Scans per campaign, site and screen over local days `start`..`end` inclusive."""
    zone = ZoneInfo(timezone)
    since = datetime.combine(start, time(), zone)
    until = datetime.combine(end + timedelta(days=1), time(), zone)
    query = (
        select(
            LinkScan.campaign_id,
            LinkScan.site_id,
            LinkScan.device_id,
            func.sum(LinkScan.scans),
        )
        .where(LinkScan.hour >= since, LinkScan.hour < until)
        .group_by(LinkScan.campaign_id, LinkScan.site_id, LinkScan.device_id)
    )
    if site_id:
        query = query.where(LinkScan.site_id == site_id)
    if campaign_id:
        query = query.where(LinkScan.campaign_id == campaign_id)
    return [
        ScanCount(campaign, site, device, int(total))
        for campaign, site, device, total in session.execute(query)
    ]


@dataclass(frozen=True)
class CodeScans:
    link: ShortLink
    scans: int


def campaign_codes(
    session: Session,
    campaign_id: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    site_ids: frozenset[str] | None = None,
) -> list[CodeScans]:
    """A campaign's codes, each with its scans in [since, until) (every scan when left
    out), by site, screen and code; `site_ids` keeps those of the screens at these sites."""
    counted = select(LinkScan.code, func.sum(LinkScan.scans).label("scans")).where(
        LinkScan.campaign_id == campaign_id
    )
    if since is not None:
        counted = counted.where(LinkScan.hour >= since)
    if until is not None:
        counted = counted.where(LinkScan.hour < until)
    per_code = counted.group_by(LinkScan.code).subquery()
    query = (
        select(ShortLink, func.coalesce(per_code.c.scans, 0))
        .outerjoin(per_code, per_code.c.code == ShortLink.code)
        .where(ShortLink.campaign_id == campaign_id)
        .order_by(ShortLink.site_id, ShortLink.device_id, ShortLink.code)
    )
    if site_ids is not None:
        query = query.where(ShortLink.site_id.in_(sorted(site_ids)))
    return [CodeScans(link, int(scans)) for link, scans in session.execute(query)]
