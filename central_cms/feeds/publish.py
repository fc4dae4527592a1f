"""A feed's last good copy to the devices: signed with the CMS key, retained on its topic.

Only whole, validated copies get here (`refresh` parses before it calls us). `version`
moves only forward, with one atomic UPDATE (at least the epoch milliseconds, as alert
revisions do), so a device never takes an older copy for a newer one, even after the
CMS database was rebuilt.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, select, update
from sqlalchemy.orm import Session

from central_cms.feeds.models import Feed
from central_cms.runtime import CmsRuntime
from devices.protocol import ProtocolError, parse_signed, sign
from devices.protocol.feeds import FeedData, FeedEntry
from devices.protocol.topics import feed_topic


def feed_message(feed: Feed, version: int, fetched_at: datetime, note: str = "") -> FeedData:
    return FeedData(
        id=feed.id,
        version=version,
        fetched_at=fetched_at,
        title=feed.title,
        note=note,
        entries=tuple(FeedEntry.model_validate(entry) for entry in feed.entries),
    )


def last_published(feed: Feed, rt: CmsRuntime) -> FeedData | None:
    """The copy the devices hold now (the last one published), or None."""
    if feed.payload is None:
        return None
    try:
        return parse_signed(FeedData, feed.payload, [rt.signing_key.public_key])
    except ProtocolError:
        return None  # signed with a key since replaced: publish afresh


def same_content(feed: Feed, copy: FeedData, note: str) -> bool:
    """Whether `copy` says what `feed` holds now (title, note and entries)."""
    entries = [entry.model_dump(mode="json") for entry in copy.entries]
    return (copy.title, copy.note, entries) == (feed.title, note, feed.entries)


def publish_feed(session: Session, rt: CmsRuntime, feed: Feed, note: str = "") -> FeedData:
    """Stamp the feed's next version, sign and publish its current copy (the caller has
    set `entries` and `last_ok_at`, and commits afterwards)."""
    assert feed.last_ok_at is not None
    now_ms = int(rt.clock.now().timestamp() * 1000)
    bump = (
        update(Feed)
        .where(Feed.id == feed.id)
        .values(version=case((Feed.version + 1 > now_ms, Feed.version + 1), else_=now_ms))
        .returning(Feed.version)
        .execution_options(synchronize_session=False)
    )
    version = int(session.execute(bump).scalar_one())
    message = feed_message(feed, version, feed.last_ok_at, note)
    payload = sign(message, rt.signing_key)
    feed.version = version
    feed.payload = payload
    feed.published_at = rt.clock.now()
    session.flush()
    rt.publisher.publish(feed_topic(feed.id), payload, retain=True)
    return message


def republish(session: Session, rt: CmsRuntime) -> int:
    """After a (re)connect: every feed's last signed copy, retained again."""
    count = 0
    for feed_id, payload in session.execute(
        select(Feed.id, Feed.payload).where(Feed.payload.is_not(None))
    ):
        assert payload is not None
        rt.publisher.publish(feed_topic(feed_id), payload, retain=True)
        count += 1
    session.rollback()
    return count


def withdraw(rt: CmsRuntime, feed_id: str) -> None:
    """A deleted feed: clear its retained copy (devices keep theirs until it is too old)."""
    rt.publisher.publish(feed_topic(feed_id), b"", retain=True)
