"""Staff's changes to feeds (save, delete) and what the feeds page says about each (health).

Editors manage the feeds of their sites; a city-wide feed (no site) needs an actor who
covers every site. Every change is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from central_cms import audit, snapshot
from central_cms import models as m
from central_cms.compiler import Targets
from central_cms.errors import Conflict, Invalid
from central_cms.feeds.addresses import FeedHosts, feed_hosts
from central_cms.feeds.models import Feed, FeedKind
from central_cms.feeds.publish import withdraw
from central_cms.manifests import devices_reached, sync_manifests
from central_cms.policy import Actor, Forbidden, Permission, require
from central_cms.runtime import CmsRuntime
from devices.protocol import DeviceKind, ProtocolError
from devices.protocol.topics import validate_id

REFRESH_MINUTES = (5, 1440)
MAX_AGE_HOURS = (1, 720)  # devices.protocol.FeedRef allows 60 s .. 30 days


@dataclass(frozen=True)
class FeedInput:
    id: str
    name: str
    url: str
    kind: str
    site_id: str | None  # None: city-wide
    refresh_minutes: int
    max_age_hours: int


def _require_owner(actor: Actor, site_id: str | None) -> None:
    require(actor, Permission.FEED_WRITE, site_ids=[site_id] if site_id else [])
    if site_id is None and not actor.all_sites:
        raise Forbidden("only staff who cover every site may manage city-wide feeds")


def _problems(session: Session, data: FeedInput, hosts: FeedHosts) -> dict[str, str]:
    problems = {}
    try:
        validate_id(data.id, "id")
    except ProtocolError:
        problems["id"] = "Use 1-64 lowercase letters, digits and '-', e.g. pool-classes."
    if not data.name.strip():
        problems["name"] = "Give the feed a name staff will recognise."
    if not data.url.strip().lower().startswith(("http://", "https://")) or len(data.url) > 2000:
        problems["url"] = "Give the address of the feed, starting with https:// or http://"
    elif refusal := hosts.url_refusal(data.url.strip()):
        # A name is judged when fetched (DNS may change): "fetch now" says so at once.
        problems["url"] = f"{refusal[0].upper()}{refusal[1:]}."
    if data.kind not in {k.value for k in FeedKind}:
        problems["kind"] = "Choose iCal, RSS or Atom, JSON or CSV."
    if data.site_id is not None and session.get(m.Site, data.site_id) is None:
        problems["site_id"] = f"There is no site {data.site_id!r}."
    low, high = REFRESH_MINUTES
    if not low <= data.refresh_minutes <= high:
        problems["refresh_minutes"] = f"Fetch every {low} to {high} minutes."
    low, high = MAX_AGE_HOURS
    if not low <= data.max_age_hours <= high:
        problems["max_age_hours"] = f"Use {low} to {high} hours."
    return problems


class FeedInvalid(Invalid):
    """Problems per form field, each shown beside its field."""

    def __init__(self, problems: dict[str, str]) -> None:
        first = next(iter(problems))
        super().__init__(first, problems[first], list(problems.values()))
        self.fields = problems


def save_feed(
    session: Session, rt: CmsRuntime, actor: Actor, data: FeedInput, *, existing: str | None
) -> Feed:
    """Create (`existing` None) or change a feed; the next refresh tick fetches it."""
    _require_owner(actor, data.site_id)
    problems = _problems(session, data, feed_hosts(rt.config))
    if problems:
        raise FeedInvalid(problems)
    feed = session.get(Feed, existing) if existing else None
    if existing and feed is None:
        raise Conflict("id", f"There is no feed {existing!r}.")
    if feed is None:
        if session.get(Feed, data.id) is not None:
            raise FeedInvalid({"id": f"A feed {data.id!r} exists already; choose another id."})
        feed = Feed(id=data.id, created_at=rt.clock.now(), entries=[], version=0)
        session.add(feed)
    else:
        _require_owner(actor, feed.site_id)
    sites = {feed.site_id, data.site_id}
    if feed.url != data.url.strip() or feed.kind != data.kind:
        # Another source: its validators and body mean nothing for the new one.
        feed.etag, feed.last_modified, feed.body_sha256 = "", "", ""
    feed.name, feed.url, feed.kind = data.name.strip(), data.url.strip(), data.kind
    feed.site_id = data.site_id
    feed.refresh_minutes = data.refresh_minutes
    feed.max_age_s = data.max_age_hours * 3600
    feed.last_attempt_at = None  # fetched at the next tick
    audit.record(
        session, actor, "feed.save", "feed", feed.id, rt.clock.now(), url=feed.url, kind=feed.kind
    )
    session.flush()
    _recompile(session, rt, sites, feed.id)
    return feed


def _recompile(session: Session, rt: CmsRuntime, site_ids: set[str | None], feed_id: str) -> None:
    """Manifests name the feeds they use (FeedRef: id, name, age limit), so a feed
    added, changed, moved or deleted changes the manifests of the devices whose widgets
    show it, and of the portals of `site_ids` (their splash's "What's on" lists their
    site's feeds): recompile those (commits; only what changed is published)."""
    portals = session.scalars(
        select(m.Device.id)
        .where(m.Device.site_id.in_([s for s in site_ids if s is not None]))
        .where(m.Device.kind == DeviceKind.PORTAL.value)
    ).all()
    wanted = set(portals) | set(devices_reached(session, *_targets_showing(session, feed_id)))
    if wanted:
        sync_manifests(session, rt, sorted(wanted))


def _targets_showing(session: Session, feed_id: str) -> list[Targets]:
    """Where the campaigns that play a widget of `feed_id` play: the compiler's own
    inputs (published rows, and approved versions while an edit awaits approval)."""
    return [
        snapshot.targets_of(campaign.targets)
        for campaign, zones in snapshot.playing(session)
        if any(
            (item.widget or {}).get("feed") == feed_id
            for zone in zones
            for item in zone.playlist.items
        )
    ]


def delete_feed(session: Session, rt: CmsRuntime, actor: Actor, feed_id: str) -> None:
    feed = session.get(Feed, feed_id)
    if feed is None:
        raise Conflict("id", f"There is no feed {feed_id!r}.")
    _require_owner(actor, feed.site_id)
    session.delete(feed)
    audit.record(session, actor, "feed.delete", "feed", feed_id, rt.clock.now(), name=feed.name)
    session.flush()
    withdraw(rt, feed_id)
    _recompile(session, rt, {feed.site_id}, feed_id)


# --- health (pure) ----------------------------------------------------------------------


class Level(StrEnum):
    OK = "ok"
    PENDING = "pending"  # not fetched yet
    WARNING = "warning"  # failing, screens still show the last good copy
    ERROR = "error"  # screens show nothing of it


@dataclass(frozen=True)
class FeedHealth:
    level: Level
    message: str


def _age(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "under a minute"
    if minutes < 90:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} hours"
    return f"{hours // 24} days"


def feed_health(feed: Feed, now: datetime) -> FeedHealth:
    if feed.last_ok_at is None:
        if feed.last_error:
            return FeedHealth(Level.ERROR, f"Never fetched successfully: {feed.last_error}")
        return FeedHealth(Level.PENDING, "Not fetched yet; the CMS fetches it within a minute.")
    # Screens date their copy by when it was sent, not by the last fetch: an unchanged
    # answer sends nothing until the copy is half its age limit old (refresh.py).
    on_screens = now - (feed.published_at or feed.last_ok_at)
    if on_screens > timedelta(seconds=feed.max_age_s):
        why = f" Last error: {feed.last_error}" if feed.last_error else ""
        return FeedHealth(
            Level.ERROR,
            f"Screens no longer show this feed: their copy is {_age(on_screens)} old.{why}",
        )
    if feed.last_error:
        left = timedelta(seconds=feed.max_age_s) - on_screens
        return FeedHealth(
            Level.WARNING,
            f"The last fetch failed: {feed.last_error}. Screens show the last good copy, "
            f"{_age(on_screens)} old, for {_age(left)} more.",
        )
    return FeedHealth(Level.OK, f"Up to date: fetched {_age(now - feed.last_ok_at)} ago.")


def feeds_needing_attention(session: Session, now: datetime) -> list[tuple[Feed, FeedHealth]]:
    """For the start page: the feeds that are failing or no longer shown, by name."""
    rows = []
    for feed in session.scalars(select(Feed).order_by(Feed.name, Feed.id)):
        health = feed_health(feed, now)
        if health.level in (Level.WARNING, Level.ERROR):
            rows.append((feed, health))
    return rows
