"""The approved version of a campaign, which keeps playing while an edit awaits approval.

When a campaign is published its rows (the campaign, its items, and each zone's playlist
with that playlist's items) are copied, as JSON, into `campaign_approved_versions`.
Editing the campaign afterwards, or a playlist it plays, turns the rows into a draft,
but the compiler goes on playing the copy (`playing_versions`) until the edit is
approved (the copy is replaced), and after a rejection; archiving ends both.

The copy is column by column, so columns added to campaigns or their items later are
kept without changes here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql.schema import Table

from central_cms import models as m
from central_cms.playlist_models import CampaignZone, Playlist, PlaylistItem

# While the rows are in one of these states, the approved copy is what plays.
EDITING = (m.CampaignStatus.DRAFT, m.CampaignStatus.PENDING)


class ApprovedVersion(m.Base):
    """A published campaign as it was approved: its row and its items' rows."""

    __tablename__ = "campaign_approved_versions"
    campaign_id: Mapped[str] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    approved_at: Mapped[datetime] = mapped_column(m.Timestamp)
    approved_by: Mapped[str] = mapped_column(String(100))
    campaign: Mapped[dict[str, Any]] = mapped_column()
    items: Mapped[list[Any]] = mapped_column()
    # Each zone: {"zone", "playlist": its row, "items": its items' rows}. None: kept
    # before migration 0015, when the campaign's zone rows play (as they did then).
    zones: Mapped[list[Any] | None] = mapped_column(nullable=True)


@dataclass(frozen=True)
class Playing:
    """An approved version that plays: the campaign as approved, and its zones (None:
    the campaign's own zone rows)."""

    campaign: m.Campaign
    zones: list[CampaignZone] | None


def _table(cls: type[m.Base]) -> Table:
    table = cls.__table__
    assert isinstance(table, Table)
    return table


def _values(row: m.Base) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for column in _table(type(row)).columns:
        value = getattr(row, column.key)
        values[column.key] = value.isoformat() if isinstance(value, date) else value
    return values


def _row(cls: type[m.Base], values: dict[str, Any]) -> Any:
    known: dict[str, Any] = {}
    for column in _table(cls).columns:
        if column.key not in values:
            continue  # a column added after the copy was made: the model's default
        value = values[column.key]
        if isinstance(value, str) and isinstance(column.type, m.UtcDateTime):
            value = datetime.fromisoformat(value)
        elif isinstance(value, str) and isinstance(column.type, Date):
            value = date.fromisoformat(value)
        known[column.key] = value
    return cls(**known)


def _zone_values(zone: CampaignZone) -> dict[str, Any]:
    items = [_values(item) for item in zone.playlist.items]
    return {"zone": zone.zone, "playlist": _values(zone.playlist), "items": items}


def _with_media(session: Session, item: Any) -> Any:
    # Only to name the item (a label); MediaAsset has no back reference, so this does
    # not pull the detached item into the session.
    item.media = session.get(m.MediaAsset, item.media_id) if item.media_id else None
    return item


def _zone_row(session: Session, campaign_id: str, values: dict[str, Any]) -> CampaignZone:
    """A kept zone as a detached CampaignZone whose detached playlist holds the items as
    they were approved (the playlist's rows may have changed since)."""
    playlist: Playlist = _row(Playlist, values["playlist"])
    items = [_with_media(session, _row(PlaylistItem, v)) for v in values["items"]]
    playlist.items = sorted(items, key=lambda i: i.position)
    return CampaignZone(
        campaign_id=campaign_id, zone=values["zone"], playlist_id=playlist.id, playlist=playlist
    )


def record(session: Session, campaign: m.Campaign, approved_by: str, at: datetime) -> None:
    """Keep `campaign`'s rows, just published, as its approved version."""
    zones = session.scalars(
        select(CampaignZone)
        .where(CampaignZone.campaign_id == campaign.id)
        .order_by(CampaignZone.zone)
    )
    version = session.get(ApprovedVersion, campaign.id)
    if version is None:
        version = ApprovedVersion(campaign_id=campaign.id)
        session.add(version)
    version.approved_at = at
    version.approved_by = approved_by
    version.campaign = _values(campaign)
    version.items = [_values(item) for item in campaign.items]
    version.zones = [_zone_values(zone) for zone in zones]


def keep_playing(session: Session, campaign: m.Campaign, at: datetime) -> None:
    """Before a published campaign's rows (or a playlist it plays) are edited: make sure
    its approved version is kept (campaigns published before approved versions were kept
    have none yet)."""
    if session.get(ApprovedVersion, campaign.id) is None:
        record(session, campaign, campaign.approved_by or campaign.created_by, at)


def find(session: Session, campaign_id: str) -> ApprovedVersion | None:
    return session.get(ApprovedVersion, campaign_id)


def discard(session: Session, campaign_id: str) -> None:
    version = session.get(ApprovedVersion, campaign_id)
    if version is not None:
        session.delete(version)


def targets(version: ApprovedVersion | None) -> dict[str, Any]:
    """Where the approved version plays, as stored (central_cms.snapshot.targets_of
    reads it); nothing when there is none."""
    return {} if version is None else dict(version.campaign.get("targets") or {})


def as_campaign(session: Session, version: ApprovedVersion) -> m.Campaign:
    """The approved version as a detached Campaign (never added to the session), so the
    compiler's inputs are made from it exactly as from a published campaign's rows."""
    campaign: m.Campaign = _row(m.Campaign, version.campaign)
    items = [_with_media(session, _row(m.CampaignItem, v)) for v in version.items]
    campaign.items = sorted(items, key=lambda i: i.position)
    return campaign


def as_zones(session: Session, version: ApprovedVersion) -> list[CampaignZone] | None:
    """The zones the approved version plays, detached; None if it was kept before its
    zones were (migration 0015)."""
    if version.zones is None:
        return None
    return [_zone_row(session, version.campaign_id, values) for values in version.zones]


def playing_versions(session: Session) -> list[Playing]:
    """The approved versions that play because their campaign's edit is a draft or
    awaits approval; a published campaign plays its own rows."""
    found = session.scalars(
        select(ApprovedVersion)
        .join(m.Campaign, m.Campaign.id == ApprovedVersion.campaign_id)
        .where(m.Campaign.status.in_(EDITING))
        .order_by(ApprovedVersion.campaign_id)
    ).all()
    return [Playing(as_campaign(session, version), as_zones(session, version)) for version in found]
