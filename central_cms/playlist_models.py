"""Tables for issue 14's authoring: playlists, the zones campaigns give them, and device
groups. Registered on `central_cms.models.Base`; migration 0010."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from central_cms.models import Base, ItemColumns, MediaAsset, Site, Timestamp


class Playlist(Base):
    """An ordered list of items with their own durations and dates, reused by campaigns
    (and default content) in any zone of their layout."""

    __tablename__ = "playlists"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))  # staff's name
    owner_site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(Timestamp)

    owner_site: Mapped[Site] = relationship()
    items: Mapped[list[PlaylistItem]] = relationship(
        back_populates="playlist",
        order_by="PlaylistItem.position",
        cascade="all, delete-orphan",
    )


class PlaylistItem(ItemColumns, Base):
    __tablename__ = "playlist_items"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    playlist_id: Mapped[str] = mapped_column(
        ForeignKey("playlists.id", ondelete="CASCADE"), index=True
    )
    # devices.protocol.Widget as JSON, for widget items
    widget: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # Shown from and until these days (inclusive, the site's local dates); None: open.
    valid_from: Mapped[date | None] = mapped_column(Date, nullable=True)
    valid_until: Mapped[date | None] = mapped_column(Date, nullable=True)

    playlist: Mapped[Playlist] = relationship(back_populates="items")
    media: Mapped[MediaAsset | None] = relationship()


class CampaignZone(Base):
    """A playlist a campaign plays in one zone of its layout (besides its own items)."""

    __tablename__ = "campaign_zones"
    __table_args__ = (UniqueConstraint("campaign_id", "zone"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[str] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    zone: Mapped[str] = mapped_column(String(64))
    playlist_id: Mapped[str] = mapped_column(ForeignKey("playlists.id"), index=True)

    playlist: Mapped[Playlist] = relationship()


class DeviceGroup(Base):
    """A named set of screens staff target together ("Foyer screens", "Pool decks")."""

    __tablename__ = "device_groups"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    updated_at: Mapped[datetime] = mapped_column(Timestamp)
    members: Mapped[list[DeviceGroupMember]] = relationship(
        cascade="all, delete-orphan", order_by="DeviceGroupMember.device_id"
    )


class DeviceGroupMember(Base):
    __tablename__ = "device_group_members"
    group_id: Mapped[str] = mapped_column(
        ForeignKey("device_groups.id", ondelete="CASCADE"), primary_key=True
    )
    device_id: Mapped[str] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True, index=True
    )
