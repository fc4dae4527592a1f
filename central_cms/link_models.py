"""The short links the CMS has issued and the scans they got (issue 14).

A code is issued once per (campaign item, screen) and kept: it goes on working after the
item is edited (an edit makes new items, with new codes, but a photo of the old code
still leads somewhere) until its campaign is archived or its screen removed. Scans are
counted per code and hour, with the campaign, site and screen copied in so the counts
outlive the link; nothing about the person scanning is stored.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from central_cms.models import Base, Timestamp


class ShortLink(Base):
    __tablename__ = "short_links"
    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    # The item the code was made for; not a foreign key, since edits replace items.
    item_id: Mapped[str] = mapped_column(String(64))
    campaign_id: Mapped[str] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    site_id: Mapped[str] = mapped_column(String(64))  # the screen's site when last issued
    destination: Mapped[str] = mapped_column(String(2048))
    issued_at: Mapped[datetime] = mapped_column(Timestamp)


class LinkScan(Base):
    """Scans of one code in one hour (UTC); a count, never a row per person."""

    __tablename__ = "link_scans"
    __table_args__ = (Index("ix_link_scans_campaign_hour", "campaign_id", "hour"),)
    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    hour: Mapped[datetime] = mapped_column(Timestamp, primary_key=True)
    campaign_id: Mapped[str] = mapped_column(String(64))
    site_id: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str] = mapped_column(String(64))
    scans: Mapped[int] = mapped_column(Integer, default=0)
