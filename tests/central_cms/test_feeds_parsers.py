"""Feed bodies to entries, all or nothing, and bytes to text without mojibake (pure)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from central_cms.feeds.decode import UndecodableFeed, decode_body
from central_cms.feeds.models import FeedKind
from central_cms.feeds.parsers import InvalidFeed, parse_feed
from tests.central_cms.feed_bodies import news_rss

NOW = datetime(2026, 12, 1, tzinfo=UTC)
PERTH = ZoneInfo("Australia/Perth")


def test_json_entries_with_local_times_take_the_sites_zone():
    body = json.dumps(
        {
            "title": "Library events",
            "entries": [
                {"title": "Storytime", "starts_at": "2026-12-01T10:30", "location": "Kids"},
                {
                    "title": "Author talk",
                    "starts_at": "2026-12-02T18:00:00+08:00",
                    "link": "javascript:alert(1)",
                },
            ],
        }
    )
    parsed = parse_feed(FeedKind.JSON, body, NOW, PERTH)
    assert parsed.title == "Library events"
    assert parsed.entries[0].starts_at == datetime(2026, 12, 1, 2, 30, tzinfo=UTC)
    assert parsed.entries[1].link is None  # only http(s) links reach screens


@pytest.mark.parametrize(
    ("kind", "body", "reason"),
    [
        (
            FeedKind.JSON,
            '[{"title": "Storytime"}, {"summary": "no title"}]',
            "entry 2: has no title",
        ),
        (FeedKind.JSON, '[{"title": "Storytime", "starts_at": "tomorrow"}]', "not an ISO 8601"),
        (FeedKind.JSON, '{"entries": [', "not valid JSON"),
        (FeedKind.CSV, "title,starts_at\nStorytime,2026-12-01T10:30,extra\n", "more cells"),
        (FeedKind.CSV, "name,when\nStorytime,today\n", "must name the columns"),
        (FeedKind.ICAL, "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:x\r\n", "iCalendar"),
        (FeedKind.RSS, "<html><body>Not a feed</body></html>", "RSS or Atom"),
    ],
)
def test_a_body_that_is_not_whole_and_valid_is_refused_with_a_reason(kind, body, reason):
    with pytest.raises(InvalidFeed, match=reason):
        parse_feed(kind, body, NOW, PERTH)


def test_csv_rows_become_entries_and_rss_summaries_lose_their_markup():
    csv_body = (
        "Title,Starts_At,Ends_At,Location\n"
        "Coding club,2026-12-02T15:30,2026-12-02T16:30,Makerspace\n"
    )
    [club] = parse_feed(FeedKind.CSV, csv_body, NOW, PERTH).entries
    assert (club.title, club.location) == ("Coding club", "Makerspace")
    assert club.ends_at == datetime(2026, 12, 2, 8, 30, tzinfo=UTC)
    news = parse_feed(FeedKind.RSS, news_rss(2).decode(), NOW, PERTH)
    assert [e.summary for e in news.entries] == ["Story 1", "Story 2"]


def test_text_in_the_declared_charset_is_read_and_a_wrong_declaration_is_refused():
    assert decode_body("Café".encode("latin-1"), "iso-8859-1").text == "Café"
    assert decode_body("Café".encode(), None).text == "Café"
    assert decode_body("Café".encode("cp1252"), None).text == "Café"  # undeclared legacy
    prolog = b'<?xml version="1.0" encoding="ISO-8859-1"?><a>caf\xe9</a>'
    assert decode_body(prolog, None).text.endswith("café</a>")
    with pytest.raises(UndecodableFeed, match="says its text is iso-8859-1 but sends UTF-8"):
        decode_body("Café".encode(), "iso-8859-1")
    with pytest.raises(UndecodableFeed, match="is not valid utf-8"):
        decode_body("Café".encode("cp1252"), "utf-8")
    with pytest.raises(UndecodableFeed, match="unknown charset"):
        decode_body(b"x", "klingon-8")
