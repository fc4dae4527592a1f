"""Playlists: ordered items with their own durations and dates, reused by campaigns.

Saving a playlist that published campaigns play takes those campaigns back to draft, as
editing a campaign does: what reaches the screens is always what an approver approved.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from central_cms import approved_versions, audit, snapshot
from central_cms import models as m
from central_cms.errors import Invalid, NotFound
from central_cms.feeds.catalogue import feeds_for_site
from central_cms.library import item_duration_s
from central_cms.manifests import devices_reached, sync_manifests
from central_cms.playlist_models import CampaignZone, Playlist, PlaylistItem
from central_cms.policy import Actor, Permission, require
from central_cms.runtime import CmsRuntime
from devices.protocol import Fit, ItemKind, TextSlide
from devices.protocol.layouts import FEED_WIDGETS, Widget, WidgetKind

WIDGET_NAMES: dict[WidgetKind, str] = {
    WidgetKind.CLOCK: "Clock",
    WidgetKind.COUNTDOWN: "Countdown",
    WidgetKind.TICKER: "News ticker (feed)",
    WidgetKind.NEXT_UP: "What's on next (feed)",
    WidgetKind.TIMETABLE: "Today's timetable (feed)",
}


@dataclass(frozen=True)
class PlaylistItemInput:
    kind: ItemKind
    duration_s: float
    media_id: int | None = None
    text: TextSlide | None = None
    widget: Widget | None = None
    alt_text: str = ""
    fit: Fit = Fit.FIT
    valid_from: date | None = None
    valid_until: date | None = None
    label: str = ""  # what staff call it, for messages (filled in by `label_of`)


@dataclass(frozen=True)
class PlaylistInput:
    name: str
    owner_site_id: str
    items: tuple[PlaylistItemInput, ...]


def get(session: Session, playlist_id: str) -> Playlist:
    playlist = session.get(Playlist, playlist_id)
    if playlist is None:
        raise NotFound(playlist_id)
    return playlist


def label_of(item: PlaylistItem | PlaylistItemInput, media_title: str = "") -> str:
    """What staff call an item: its description, title, picture or widget."""
    if isinstance(item, PlaylistItem):
        text = (item.text or {}).get("title", "")
        widget = WIDGET_NAMES.get(WidgetKind(item.widget["kind"])) if item.widget else ""
        media_title = media_title or (item.media.title if item.media else "")
    else:
        text = item.text.title if item.text else ""
        widget = WIDGET_NAMES[item.widget.kind] if item.widget else ""
    return str(item.alt_text or text or media_title or widget or item.kind)


def using(session: Session, playlist_id: str) -> list[m.Campaign]:
    """The campaigns (not archived) that play the playlist, by name."""
    return list(
        session.scalars(
            select(m.Campaign)
            .where(
                m.Campaign.id.in_(
                    select(CampaignZone.campaign_id).where(CampaignZone.playlist_id == playlist_id)
                )
            )
            .where(m.Campaign.status != m.CampaignStatus.ARCHIVED)
            .order_by(m.Campaign.name)
        )
    )


def _problems(session: Session, data: PlaylistInput, feeds: set[str]) -> dict[tuple[int, str], str]:
    """(1-based item number, field) -> what is wrong, naming the item as staff named it."""
    found: dict[tuple[int, str], str] = {}
    for number, item in enumerate(data.items, start=1):
        asset = session.get(m.MediaAsset, item.media_id) if item.media_id is not None else None
        name = f"Item {number} ({label_of(item, asset.title if asset else '')})"
        if not 0 < item.duration_s <= 3600:
            found[(number, "duration_s")] = f"{name}: show it for 1 s to 3600 s."
        if item.valid_from and item.valid_until and item.valid_until < item.valid_from:
            found[(number, "valid_until")] = f"{name}: the last day is before the first day."
        if item.kind is ItemKind.TEXT and (item.text is None or not item.text.title.strip()):
            found[(number, "title")] = f"{name}: a text slide needs a title."
        elif item.kind is ItemKind.WIDGET:
            widget = item.widget
            if widget is None:
                found[(number, "widget")] = f"{name}: choose a widget."
            elif widget.kind in FEED_WIDGETS and widget.feed not in feeds:
                found[(number, "feed")] = f"{name}: choose the feed it shows."
        elif item.kind in (ItemKind.IMAGE, ItemKind.VIDEO):
            if asset is None:
                found[(number, "media_id")] = f"{name}: choose a picture or video."
            elif asset.kind != item.kind.value:
                found[(number, "media_id")] = (
                    f"{name}: the file is a {asset.kind}, not a {item.kind.value}."
                )
    return found


def known_feeds(session: Session, site_id: str | None) -> dict[str, str]:
    """Feed id -> staff's name: the feeds a site's widgets may show."""
    return {feed.id: feed.name for feed in feeds_for_site(session, site_id)}


def save(
    session: Session,
    rt: CmsRuntime,
    actor: Actor,
    data: PlaylistInput,
    playlist_id: str | None = None,
) -> Playlist:
    existing = get(session, playlist_id) if playlist_id else None
    if existing is not None:
        require(actor, Permission.CAMPAIGN_WRITE, site_ids=[existing.owner_site_id])
    if not data.name.strip():
        raise Invalid("name", "Give the playlist a name.")
    if session.get(m.Site, data.owner_site_id) is None:
        raise Invalid("owner_site_id", "Choose the site that owns this playlist.")
    require(actor, Permission.CAMPAIGN_WRITE, site_ids=[data.owner_site_id])
    if not data.items:
        raise Invalid("items", "Add at least one item.")
    problems = _problems(session, data, set(known_feeds(session, data.owner_site_id)))
    if problems:
        by_field = {key: [message] for key, message in problems.items()}
        messages = list(problems.values())
        raise Invalid("items", messages[0], messages, item_problems=by_field)
    now = rt.clock.now()
    # Before the items change, so the approved versions keep the items as approved.
    withdrawn = _back_to_draft(session, existing.id, now) if existing else []
    playlist = existing or Playlist(id=_slug(data.name))
    if existing is None:
        session.add(playlist)
    playlist.name = data.name.strip()[:200]
    playlist.owner_site_id = data.owner_site_id
    playlist.updated_by = actor.username
    playlist.updated_at = now
    playlist.items.clear()
    session.flush()
    for position, item in enumerate(data.items):
        playlist.items.append(
            PlaylistItem(
                id=f"{playlist.id[:50]}-{secrets.token_hex(4)}",
                position=position,
                kind=item.kind.value,
                media_id=item.media_id if item.kind in (ItemKind.IMAGE, ItemKind.VIDEO) else None,
                text=item.text.model_dump(mode="json")
                if item.text and item.kind is ItemKind.TEXT
                else None,
                widget=item.widget.model_dump(mode="json") if item.widget else None,
                alt_text=item.alt_text[:200],
                duration_s=item_duration_s(
                    session, item.kind.value, item.media_id, item.duration_s
                ),
                fit=item.fit.value,
                valid_from=item.valid_from,
                valid_until=item.valid_until,
            )
        )
    action = "playlist.create" if existing is None else "playlist.update"
    audit.record(session, actor, action, "playlist", playlist.id, now, name=playlist.name)
    session.flush()
    if withdrawn:
        targets = [snapshot.targets_of(c.targets) for c in withdrawn]
        sync_manifests(session, rt, devices_reached(session, *targets))
    session.commit()
    return playlist


def _back_to_draft(session: Session, playlist_id: str, now: datetime) -> list[m.Campaign]:
    """Published campaigns playing the playlist go back to draft until approved again;
    meanwhile their approved versions play (central_cms/approved_versions.py)."""
    published = [c for c in using(session, playlist_id) if c.status == m.CampaignStatus.PUBLISHED]
    for campaign in published:
        approved_versions.keep_playing(session, campaign, now)
        campaign.status = m.CampaignStatus.DRAFT
        campaign.updated_at = now
    return published


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40].strip("-")
    return f"{slug or 'playlist'}-{secrets.token_hex(3)}"


def visible(session: Session, actor: Actor) -> list[Playlist]:
    """The playlists an actor may choose: every one for all-site staff, else their sites'."""
    playlists = session.scalars(select(Playlist).order_by(Playlist.name)).all()
    return [p for p in playlists if actor.covers_site(p.owner_site_id)]
