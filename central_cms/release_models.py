"""Software releases, the channels that offer them and the groups that follow each
channel (issue 18). The wheel itself is a blob (central_cms/blobs.py), by sha256."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from central_cms.models import Base, Timestamp


class SoftwareRelease(Base):
    __tablename__ = "software_releases"
    version: Mapped[str] = mapped_column(String(40), primary_key=True)
    wheel_sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    notes: Mapped[str] = mapped_column(String(200), default="")
    uploaded_at: Mapped[datetime] = mapped_column(Timestamp)
    uploaded_by: Mapped[str] = mapped_column(String(200))


class ReleaseChannel(Base):
    """What one channel offers now and how far its rollout has gone.

    `stage` is "pilot" (only `pilots` are offered the release), "rollout" (`percent` of
    the other devices too) or "halted" (a device failed with it: nobody new takes it)."""

    __tablename__ = "release_channels"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    release_version: Mapped[str] = mapped_column(
        ForeignKey("software_releases.version", ondelete="RESTRICT")
    )
    pilots: Mapped[list[Any]] = mapped_column(default=list)
    percent: Mapped[int] = mapped_column(Integer, default=100)  # once the pilots are healthy
    stage: Mapped[str] = mapped_column(String(16), default="pilot")
    halted_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    published_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime] = mapped_column(Timestamp)


class GroupChannel(Base):
    """A device group follows one release channel; its screens take that channel's release."""

    __tablename__ = "device_group_channels"
    group_id: Mapped[str] = mapped_column(
        ForeignKey("device_groups.id", ondelete="CASCADE"), primary_key=True
    )
    channel: Mapped[str] = mapped_column(String(64), index=True)
