"""The approved version of a campaign, which keeps playing while an edit awaits approval.

When a campaign is published its rows (the campaign and its items) are copied, as JSON,
into `campaign_approved_versions`. Editing the campaign afterwards turns the rows into a
draft, but the compiler goes on playing the copy (`playing_versions`) until the edit is
approved (the copy is replaced), and after a rejection; archiving ends both.

The copy is column by column, so columns added to campaigns or their items later are
kept without changes here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql.schema import Table

from central_cms import models as m

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


def _values(row: m.Base, table: Table) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for column in table.columns:
        value = getattr(row, column.key)
        values[column.key] = value.isoformat() if isinstance(value, datetime) else value
    return values


def _row(cls: type[m.Campaign] | type[m.CampaignItem], values: dict[str, Any]) -> Any:
    table = cls.__table__
    assert isinstance(table, Table)
    known: dict[str, Any] = {}
    for column in table.columns:
        if column.key not in values:
            continue  # a column added after the copy was made: the model's default
        value = values[column.key]
        if isinstance(column.type, m.UtcDateTime) and isinstance(value, str):
            value = datetime.fromisoformat(value)
        known[column.key] = value
    return cls(**known)


def record(session: Session, campaign: m.Campaign, approved_by: str, at: datetime) -> None:
    """Keep `campaign`'s rows, just published, as its approved version."""
    campaign_table, item_table = m.Campaign.__table__, m.CampaignItem.__table__
    assert isinstance(campaign_table, Table) and isinstance(item_table, Table)
    version = session.get(ApprovedVersion, campaign.id)
    if version is None:
        version = ApprovedVersion(campaign_id=campaign.id)
        session.add(version)
    version.approved_at = at
    version.approved_by = approved_by
    version.campaign = _values(campaign, campaign_table)
    version.items = [_values(item, item_table) for item in campaign.items]


def keep_playing(session: Session, campaign: m.Campaign, at: datetime) -> None:
    """Before a published campaign's rows are edited: make sure its approved version is
    kept (campaigns published before approved versions were kept have none yet)."""
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
    items: list[m.CampaignItem] = [_row(m.CampaignItem, v) for v in version.items]
    for item in items:
        # Only to name the item (a label); MediaAsset has no back reference, so this
        # does not pull the detached item into the session.
        item.media = session.get(m.MediaAsset, item.media_id) if item.media_id else None
    campaign.items = sorted(items, key=lambda i: i.position)
    return campaign


def playing_versions(session: Session) -> list[m.Campaign]:
    """The approved versions that play because their campaign's edit is a draft or
    awaits approval; a published campaign plays its own rows."""
    found = session.scalars(
        select(ApprovedVersion)
        .join(m.Campaign, m.Campaign.id == ApprovedVersion.campaign_id)
        .where(m.Campaign.status.in_(EDITING))
        .order_by(ApprovedVersion.campaign_id)
    ).all()
    return [as_campaign(session, version) for version in found]
