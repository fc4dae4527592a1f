"""Feed bodies to validated `FeedEntry` tuples (pure: text and an instant in, entries out).

Every parser is all or nothing: a body that does not parse whole, or an entry that does
not validate, raises `InvalidFeed` naming what is wrong, and the caller keeps the last
good copy. Nothing half-parsed is ever returned.

JSON and CSV sources use one documented shape (docs/feeds.md): entries with the columns
or keys `title` (required), `starts_at`, `ends_at` (ISO 8601 with an offset, or local
time in the feed's time zone), `location`, `summary`, `link`. JSON may be a list of
entries or an object {"title": ..., "entries": [...]}.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

import feedparser  # type: ignore[import-untyped]
import icalendar
import recurring_ical_events  # type: ignore[import-untyped]
from pydantic import ValidationError

from central_cms.feeds.models import FeedKind
from devices.protocol.base import SHORT_TEXT_MAX
from devices.protocol.feeds import MAX_FEED_ENTRIES, FeedEntry

SUMMARY_MAX = 1000
ICAL_DAYS_AHEAD = 7  # recurring classes are expanded this far ahead
FIELDS = ("title", "starts_at", "ends_at", "location", "summary", "link")
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


class InvalidFeed(ValueError):
    """The body is not a whole, valid feed of its kind; the message is for staff."""


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    entries: tuple[FeedEntry, ...]
    note: str = ""  # e.g. "first 500 of 812 entries"


def parse_feed(kind: FeedKind, text: str, now: datetime, tz: tzinfo) -> ParsedFeed:
    """`now`: aware; iCal recurrences are expanded from its day on. `tz`: the time zone
    of floating times and all-day events (the site's)."""
    parser = {
        FeedKind.ICAL: _ical,
        FeedKind.RSS: _rss,
        FeedKind.JSON: _json,
        FeedKind.CSV: _csv,
    }[kind]
    title, raw = parser(text, now, tz)
    entries = [_entry(number, fields, tz) for number, fields in enumerate(raw, 1)]
    note = ""
    if len(entries) > MAX_FEED_ENTRIES:
        note = f"first {MAX_FEED_ENTRIES} of {len(entries)} entries"
        entries = entries[:MAX_FEED_ENTRIES]
    return ParsedFeed(title=_short(title), entries=tuple(entries), note=note)


# --- normalising ---------------------------------------------------------------------


def _plain(value: object) -> str:
    """Text without markup or runs of white space (summaries often carry HTML)."""
    text = html.unescape(_TAG.sub(" ", str(value or "")))
    return _SPACE.sub(" ", text).strip()


def _short(value: object, limit: int = SHORT_TEXT_MAX) -> str:
    text = _plain(value)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _instant(value: object, tz: tzinfo, field: str) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidFeed(f"{field} {value!r} is not an ISO 8601 date and time") from None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=tz)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tz)
    raise InvalidFeed(f"{field} {value!r} is not a date and time")


def _link(value: object) -> str | None:
    link = str(value or "").strip()
    return link if link.startswith(("http://", "https://")) else None


def _entry(number: int, fields: Mapping[str, Any], tz: tzinfo) -> FeedEntry:
    try:
        title = _short(fields.get("title"))
        if not title:
            raise InvalidFeed("has no title")
        starts_at = _instant(fields.get("starts_at"), tz, "starts_at")
        ends_at = _instant(fields.get("ends_at"), tz, "ends_at")
        if starts_at and ends_at and ends_at < starts_at:
            raise InvalidFeed("ends before it starts")
        return FeedEntry(
            title=title,
            starts_at=starts_at,
            ends_at=ends_at,
            location=_short(fields.get("location")),
            summary=_short(fields.get("summary"), SUMMARY_MAX),
            link=_link(fields.get("link")),
        )
    except InvalidFeed as error:
        raise InvalidFeed(f"entry {number}: {error}") from None
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        raise InvalidFeed(f"entry {number}: {where}: {problem['msg']}") from None


# --- the four kinds --------------------------------------------------------------------

_Raw = tuple[str, Iterable[Mapping[str, Any]]]


def _ical(text: str, now: datetime, tz: tzinfo) -> _Raw:
    try:
        calendar = icalendar.Calendar.from_ical(text)
    except ValueError as error:
        raise InvalidFeed(f"not an iCalendar file: {error}") from None
    start = datetime.combine(now.astimezone(tz).date(), time(0), tz)
    try:
        events = recurring_ical_events.of(calendar).between(
            start, start + timedelta(days=ICAL_DAYS_AHEAD)
        )
    except Exception as error:  # the library raises many kinds on a broken RRULE
        raise InvalidFeed(f"the events' dates or repeat rules are broken: {error}") from None
    rows = []
    for event in events:
        begins = event.get("DTSTART")
        ends = event.get("DTEND")
        rows.append(
            {
                "title": event.get("SUMMARY"),
                "starts_at": begins.dt if begins is not None else None,
                "ends_at": ends.dt if ends is not None else None,
                "location": event.get("LOCATION"),
                "summary": event.get("DESCRIPTION"),
                "link": event.get("URL"),
            }
        )
    rows.sort(key=lambda row: _instant(row["starts_at"], tz, "DTSTART") or start)
    return str(calendar.get("X-WR-CALNAME", "")), rows


def _rss(text: str, now: datetime, tz: tzinfo) -> _Raw:
    parsed = feedparser.parse(text, sanitize_html=True, resolve_relative_uris=False)
    # feedparser recovers what it can from broken XML ("bozo"): that is a half feed.
    if parsed.bozo and not isinstance(parsed.bozo_exception, feedparser.CharacterEncodingOverride):
        raise InvalidFeed(f"not well-formed RSS or Atom: {parsed.bozo_exception}")
    if not parsed.version:
        raise InvalidFeed("not an RSS or Atom feed")
    rows = [
        {
            "title": item.get("title"),
            "summary": item.get("summary"),
            "link": item.get("link"),
        }
        for item in parsed.entries
    ]
    return str(parsed.feed.get("title", "")), rows


def _json(text: str, now: datetime, tz: tzinfo) -> _Raw:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidFeed(f"not valid JSON: {error}") from None
    title = ""
    if isinstance(document, dict):
        title = str(document.get("title", ""))
        document = document.get("entries")
    if not isinstance(document, list) or not all(isinstance(row, dict) for row in document):
        raise InvalidFeed('expected a list of entries, or {"entries": [...]}, of objects')
    return title, document


def _csv(text: str, now: datetime, tz: tzinfo) -> _Raw:
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [name.strip().lower() for name in reader.fieldnames or ()]
        if "title" not in header:
            raise InvalidFeed(f"the first row must name the columns, title among {FIELDS}")
        rows = []
        for row in reader:
            if None in row:
                raise InvalidFeed(f"row {reader.line_num} has more cells than the header")
            rows.append({k.strip().lower(): v for k, v in row.items() if k is not None})
    except csv.Error as error:
        raise InvalidFeed(f"not valid CSV: {error}") from None
    return "", rows
