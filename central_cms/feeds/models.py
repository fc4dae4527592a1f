"""The `feeds` table: a source staff registered, how it is fetched, and its last good copy.

A feed belongs to one site (its staff edit it) or to the whole city (`site_id` None).
`entries` is the last copy that parsed and validated whole; a failed fetch changes only
the status columns, so what devices and the portal show never degrades to a half feed.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from central_cms.models import Base, Timestamp

DEFAULT_REFRESH_MINUTES = 15
DEFAULT_MAX_AGE_S = 24 * 3600


class FeedKind(StrEnum):
    ICAL = "ical"
    RSS = "rss"  # RSS or Atom
    JSON = "json"
    CSV = "csv"


class Feed(Base):
    __tablename__ = "feeds"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(2000))
    kind: Mapped[str] = mapped_column(String(8))  # FeedKind
    # None: city-wide (admins edit it); else the site whose staff edit it.
    site_id: Mapped[str | None] = mapped_column(ForeignKey("sites.id"), nullable=True, index=True)
    refresh_minutes: Mapped[int] = mapped_column(Integer, default=DEFAULT_REFRESH_MINUTES)
    # Devices stop showing a copy older than this (devices.protocol.FeedRef.max_age_s).
    max_age_s: Mapped[int] = mapped_column(Integer, default=DEFAULT_MAX_AGE_S)
    created_at: Mapped[datetime] = mapped_column(Timestamp)

    # --- fetch status -------------------------------------------------------------
    last_attempt_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    # The last time the source answered with a good copy (or 304: still the same one).
    last_ok_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    # Why the last attempt failed, in words staff understand; None after a good fetch.
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    failing_since: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    etag: Mapped[str] = mapped_column(String(500), default="")
    last_modified: Mapped[str] = mapped_column(String(100), default="")

    # --- the last good copy -------------------------------------------------------
    title: Mapped[str] = mapped_column(String(200), default="")  # as the source names itself
    # devices.protocol.FeedEntry as JSON, in order; the last copy that validated whole.
    entries: Mapped[list[Any]] = mapped_column(default=list)
    # sha256 of the body and its charset: a source ignoring conditional GET is not re-parsed.
    body_sha256: Mapped[str] = mapped_column(String(64), default="")
    # ds.feed/1 `version` of the last published copy: only moves forward.
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    published_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    payload: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # signed

    @property
    def entry_count(self) -> int:
        return len(self.entries)
