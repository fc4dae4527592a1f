"""The CMS database: SQLAlchemy 2 declarative models (typed with ``Mapped``).

Ids that appear on the wire (sites, devices, campaigns, items, alerts, screen profiles)
are the contract's slug ids; internal rows (users, media, audit) use integers.
The Alembic migrations in ``central_cms/migrations`` must match these models; a test
compares them. Other parts of the CMS (analytics, ingest) import ``Base`` and add
their own tables in their own modules, plus a migration.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Stable constraint names, so migrations are identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (which keeps no offset)
    and PostgreSQL (timestamptz) alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware one")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Timestamp = UtcDateTime()


class Role(StrEnum):
    ADMIN = "admin"
    EDITOR = "editor"
    APPROVER = "approver"
    IT = "it"
    VIEWER = "viewer"


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    PENDING = "pending"  # waiting for an approver
    PUBLISHED = "published"  # approved (or needing no approval) and on the devices
    ARCHIVED = "archived"


class Site(Base):
    __tablename__ = "sites"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300), default="")
    timezone: Mapped[str] = mapped_column(String(64))
    # [{"day": "mon", "opens": "06:00", "closes": "21:00"}, ...]
    opening_hours: Mapped[list[Any]] = mapped_column(default=list)
    requires_approval: Mapped[bool] = mapped_column(Boolean, default=True)
    # Small teams: the one who submitted a campaign may also approve it, when every site
    # it reaches allows this; never for roadside screens (campaigns.self_approval_refusal).
    allow_self_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    brand_colour: Mapped[str] = mapped_column(String(7), default="#003a70")
    # devices.protocol.PortalSettings as JSON, for the site's portal nodes; None: no portal.
    portal_settings: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # The splash's languages (codes from devices.protocol.PORTAL_LANGUAGES); None: every
    # language the portal ships, so a site gets new translations as they arrive.
    languages: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)


class ScreenProfile(Base):
    """A screen's canvas and rules. The protocol fields go into each manifest; the
    content rules (``forbid_contact_text``) are enforced only here, at save time."""

    __tablename__ = "screen_profiles"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # devices.protocol.ProfileKind
    width_px: Mapped[int] = mapped_column(Integer)
    height_px: Mapped[int] = mapped_column(Integer)
    min_dwell_s: Mapped[float] = mapped_column(Float, default=0)
    allow_video: Mapped[bool] = mapped_column(Boolean, default=True)
    transitions: Mapped[bool] = mapped_column(Boolean, default=True)
    forbid_contact_text: Mapped[bool] = mapped_column(Boolean, default=False)
    night_blank_start: Mapped[str | None] = mapped_column(String(5), nullable=True)
    night_blank_end: Mapped[str | None] = mapped_column(String(5), nullable=True)
    # [{"at": "06:00", "percent": 80}, ...]
    brightness: Mapped[list[Any]] = mapped_column(default=list)
    max_content_age_s: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Device(Base):
    __tablename__ = "devices"
    # The devices list pages by site then id; the Screens page picks signage by site.
    __table_args__ = (
        Index("ix_devices_site_id_id", "site_id", "id"),
        Index("ix_devices_kind_site_id", "kind", "site_id"),
    )
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(16))  # devices.protocol.DeviceKind
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    profile_id: Mapped[str] = mapped_column(ForeignKey("screen_profiles.id"), index=True)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    mqtt_password_hash: Mapped[str] = mapped_column(String(200), default="")
    asset_token_hash: Mapped[str] = mapped_column(String(64), default="", index=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    # Issue 18: how the screen is mounted (clockwise degrees: 0, 90, 180, 270) and when
    # its panel is on: "always", "opening-hours" (the site's) or "own" (`power_hours`,
    # [{"day": "mon", "opens": "07:00", "closes": "21:00"}, ...]).
    rotation_deg: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    power_mode: Mapped[str] = mapped_column(String(16), default="always", server_default="always")
    power_hours: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")

    site: Mapped[Site] = relationship()
    profile: Mapped[ScreenProfile] = relationship()


class ManifestState(Base):
    """The last manifest published to a device. `version` only moves forward: it is
    bumped with one atomic UPDATE, so two CMS processes never publish the same one."""

    __tablename__ = "manifest_states"
    device_id: Mapped[str] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, default=0)
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    valid_until: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    published_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    payload: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # The sha256s this manifest names and those of the one before it: the device's asset
    # token fetches only these (its pending manifest, and the current one it may still
    # run while it downloads).
    asset_sha256s: Mapped[list[Any]] = mapped_column(default=list)
    previous_asset_sha256s: Mapped[list[Any]] = mapped_column(default=list)


class Blob(Base):
    """A stored file, by content hash: originals, thumbnails and renditions alike."""

    __tablename__ = "blobs"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(Timestamp)


class MediaAsset(Base):
    __tablename__ = "media_assets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))  # image or video
    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"), index=True)
    thumbnail_sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    width_px: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height_px: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Videos only, from ffprobe at upload (issue 18); duration_s becomes the item's.
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    video_codec: Mapped[str | None] = mapped_column(String(32), nullable=True)
    frame_rate: Mapped[float | None] = mapped_column(Float, nullable=True)
    site_id: Mapped[str | None] = mapped_column(ForeignKey("sites.id"), nullable=True)
    uploaded_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(Timestamp)

    blob: Mapped[Blob] = relationship(foreign_keys=[sha256])


class Rendition(Base):
    """An image fitted to one screen profile's canvas (turned portrait for a screen on
    its side, issue 18); made once, then reused."""

    __tablename__ = "renditions"
    __table_args__ = (
        UniqueConstraint("media_id", "profile_id", "fit", "background", "width_px", "height_px"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media_assets.id", ondelete="CASCADE"))
    profile_id: Mapped[str] = mapped_column(ForeignKey("screen_profiles.id", ondelete="CASCADE"))
    fit: Mapped[str] = mapped_column(String(16))
    background: Mapped[str] = mapped_column(String(7), default="#000000")
    width_px: Mapped[int] = mapped_column(Integer)
    height_px: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    size_bytes: Mapped[int] = mapped_column(Integer)

    blob: Mapped[Blob] = relationship(foreign_keys=[sha256])  # its content type
    profile: Mapped[ScreenProfile] = relationship()

    @property
    def turned(self) -> bool:
        """Made for a screen of the profile mounted on its side (issue 18)."""
        return (self.width_px, self.height_px) != (self.profile.width_px, self.profile.height_px)


class Campaign(Base):
    __tablename__ = "campaigns"
    # The campaign list pages newest first, all or by status (migration 0017).
    __table_args__ = (
        Index("ix_campaigns_updated_at_id", "updated_at", "id"),
        Index("ix_campaigns_status_updated_at_id", "status", "updated_at", "id"),
    )
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))  # staff's name; never shown to the public
    # What visitors and passers-by see (issue 13 point 17), and its translations
    # {"vi": "...", "ar": "..."} by language code.
    public_title: Mapped[str] = mapped_column(String(200), default="")
    public_title_translations: Mapped[dict[str, Any]] = mapped_column(default=dict)
    owner_site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=CampaignStatus.DRAFT, index=True)
    priority: Mapped[int] = mapped_column(Integer, default=50)
    # The site's default content: shown when nothing else is scheduled.
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    # devices.protocol.Schedule as JSON, any one open is enough; empty: always.
    schedules: Mapped[list[Any]] = mapped_column(default=list)
    # {"sites": [...], "tags": [...], "kinds": [...], "profiles": [...], "groups": [...],
    # "except_sites": [...]}; within one list any value matches, across lists all must;
    # an empty list matches everything. "skip_unable": true leaves out the screens that
    # cannot show it, "skip_profiles" their profiles (campaigns.screens_unable).
    targets: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The layout per kind of screen {"indoor": "main-side-ticker-clock", "portal": ...}
    # (devices.protocol.LayoutTemplate values); a site's default content sets its
    # screens' layout, campaigns fill its zones by name (central_cms/zones.py).
    layouts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime] = mapped_column(Timestamp)
    submitted_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    approved_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    review_note: Mapped[str] = mapped_column(Text, default="")
    # Share of voice: guaranteed seconds of every clock hour while scheduled; None: none
    # (central_cms/share_of_voice.py).
    share_s_per_hour: Mapped[int | None] = mapped_column(Integer, nullable=True)

    owner_site: Mapped[Site] = relationship()
    items: Mapped[list[CampaignItem]] = relationship(
        back_populates="campaign",
        order_by="CampaignItem.position",
        cascade="all, delete-orphan",
    )


class ItemColumns:
    """What a campaign's item and a playlist's item (central_cms/playlist_models.py) both
    say about one thing on screen."""

    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(16))  # devices.protocol.ItemKind
    media_id: Mapped[int | None] = mapped_column(ForeignKey("media_assets.id"), nullable=True)
    # devices.protocol.TextSlide as JSON, for text items
    text: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    alt_text: Mapped[str] = mapped_column(String(200), default="")
    duration_s: Mapped[float] = mapped_column(Float, default=10)
    fit: Mapped[str] = mapped_column(String(16), default="fit")


class CampaignItem(ItemColumns, Base):
    __tablename__ = "campaign_items"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    campaign_id: Mapped[str] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    weight: Mapped[int] = mapped_column(Integer, default=1)
    background: Mapped[str] = mapped_column(String(7), default="#000000")
    link_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    # The item's own public title, overriding the campaign's; "" uses the campaign's.
    public_title: Mapped[str] = mapped_column(String(200), default="")
    public_title_translations: Mapped[dict[str, Any]] = mapped_column(default=dict)
    zone: Mapped[str] = mapped_column(String(64), default="main")  # its zone of the layout

    campaign: Mapped[Campaign] = relationship(back_populates="items")
    media: Mapped[MediaAsset | None] = relationship()


class Alert(Base):
    __tablename__ = "alerts"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    scope: Mapped[str] = mapped_column(String(64), index=True)  # "all" or a site id
    severity: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    kinds: Mapped[list[Any]] = mapped_column(default=list)
    issued_at: Mapped[datetime] = mapped_column(Timestamp)
    expires_at: Mapped[datetime] = mapped_column(Timestamp)
    cleared: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(100))
    # The revision of this alert's latest message on its scope's topic (issue 13); 0 for
    # alerts sent before revisions existed.
    revision: Mapped[int] = mapped_column(BigInteger, default=0)


class AlertScope(Base):
    """Per alert scope, the highest revision stamped on a message for it. Its row stays
    locked from the stamp until the commit after publishing, so CMS processes publish
    one scope's messages in revision order (central_cms/alerts.py)."""

    __tablename__ = "alert_scopes"
    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(16))
    # For editors: the sites they may work on; empty means every site.
    sites: Mapped[list[Any]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex
    created_at: Mapped[datetime] = mapped_column(Timestamp)

    user: Mapped[User] = relationship()


class StaffSession(Base):
    """A signed-in browser. Its cookie holds a random token and only the token's sha256
    is stored, so deleting the row ends the session in every CMS process: a copied
    cookie stops working at logout, a role or password change, or "sign out everywhere"."""

    __tablename__ = "staff_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the token
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp)


class LoginAttempt(Base):
    """One row per failed login, shared by every CMS process, for rate limiting: counted
    per user and per address separately (auth.login_refusal)."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_username_at", "username", "at"),
        Index("ix_login_attempts_address_at", "address", "at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100))  # as typed, lower-cased
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(Timestamp)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    # "Everything about this item", newest first (the audit log's entity filter).
    __table_args__ = (Index("ix_audit_log_entity_id_id", "entity_id", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(Timestamp, index=True)
    username: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class NewsletterSignup(Base):
    """A visitor's consented newsletter sign-up, forwarded by a portal node (issue 6).

    Personal data: it never goes into analytics, and audit entries and logs name the row's
    id, never the address. One row per address per site (stored lower-cased), so a node
    re-sending a sign-up it is not sure arrived makes no second row. Deleting the row (a
    person asking to be removed) removes the address."""

    __tablename__ = "newsletter_signups"
    __table_args__ = (
        UniqueConstraint("site_id", "email"),
        # The per-device rate limit counts a device's recent sign-ups.
        Index("ix_newsletter_signups_device_received", "source_device_id", "received_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    email: Mapped[str] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(8))
    # The version of the terms (with the newsletter consent text) the visitor accepted.
    terms_version: Mapped[str] = mapped_column(String(40))
    consented_at: Mapped[datetime] = mapped_column(Timestamp)
    received_at: Mapped[datetime] = mapped_column(Timestamp)
    # The portal node that forwarded it; kept (as None) if the device is deleted later.
    source_device_id: Mapped[str | None] = mapped_column(
        ForeignKey("devices.id", ondelete="SET NULL"), nullable=True
    )

    site: Mapped[Site] = relationship()


class JobLease(Base):
    """Who runs a periodic job (e.g. manifest renewal) right now, and how it last went.

    Every CMS process ticks the job; the one holding an unexpired lease runs it, so
    several gunicorn workers renew once, and a crashed holder's lease simply expires
    (issue 13, point 3). The row also records the last run, for IT."""

    __tablename__ = "job_leases"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200), default="")
    expires_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    last_run_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    # The last run that recompiled every device (not only those due for renewal).
    last_full_run_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    last_published: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
