"""The demo's stand-in booking system and city news site: an HTTP server whose
`/{site}.ics` is this week's timetable of classes at the site, as a real booking system
exports it (weekly repeat rules in the site's time zone), and whose `/city-news.xml` is
the city's news as RSS; both with an ETag, so the CMS's conditional GET gets 304s."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date, datetime, timedelta
from http.server import ThreadingHTTPServer
from zoneinfo import ZoneInfo

from central_cms.seed_layouts import NEWS_PATH
from digital_spaces.demo.quiet_http import QuietHandler

# (name, weekdays as RRULE BYDAY, start, minutes, room) per kind of site.
CLASSES = {
    "leisureplex": (
        ("Aquarobics", "MO,WE,FR", "09:00", 45, "Program pool"),
        ("Learn to swim", "TU,TH", "16:00", 30, "Learner pool"),
        ("Spin class", "MO,TU,WE,TH,FR", "18:00", 45, "Studio 1"),
        ("Yoga", "SA,SU", "08:30", 60, "Studio 2"),
    ),
    "library": (
        ("Storytime", "TU,TH", "10:30", 30, "Children's corner"),
        ("Coding club", "WE", "15:30", 60, "Makerspace"),
        ("Tech help", "MO,FR", "14:00", 60, "Study room"),
        ("Book club", "SA", "11:00", 60, "Meeting room"),
    ),
}


def timetable_ics(site_id: str, kind: str, tz_name: str, today: date) -> bytes:
    """The site's weekly classes from the Monday of `today`'s week, repeating weekly."""
    monday = today - timedelta(days=today.weekday())
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Digital Spaces demo//Bookings//EN",
        f"X-WR-CALNAME:Classes at {site_id}",
        f"X-WR-TIMEZONE:{tz_name}",
    ]
    tz = ZoneInfo(tz_name)
    for number, (name, days, start, minutes, room) in enumerate(CLASSES[kind], 1):
        hour, minute = (int(part) for part in start.split(":"))
        begins = datetime(monday.year, monday.month, monday.day, hour, minute, tzinfo=tz)
        ends = begins + timedelta(minutes=minutes)
        lines += [
            "BEGIN:VEVENT",
            f"UID:{site_id}-{number}@bookings.demo",
            f"DTSTAMP:{monday:%Y%m%d}T000000Z",
            f"DTSTART;TZID={tz_name}:{begins:%Y%m%dT%H%M%S}",
            f"DTEND;TZID={tz_name}:{ends:%Y%m%dT%H%M%S}",
            f"RRULE:FREQ=WEEKLY;BYDAY={days}",
            f"SUMMARY:{name}",
            f"LOCATION:{room}",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


NEWS = (
    ("Riverton school-holiday programme bookings open", "riverton-holidays"),
    ("Library cards now work at every city library", "library-cards"),
    ("Canning River walk trail reopens after works", "river-trail"),
)


def city_news_rss(today: date) -> bytes:
    items = "".join(
        f"<item><title>{title}</title><link>https://example.org/news/{slug}</link>"
        f"<pubDate>{today:%a, %d %b %Y} 08:00:00 +0800</pubDate></item>"
        for title, slug in NEWS
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>City news</title><link>https://example.org/news</link>{items}"
        "</channel></rss>"
    ).encode()


def booking_server(
    host: str, sites: dict[str, str], tz_name: str, today: Callable[[], date]
) -> ThreadingHTTPServer:
    """`sites`: site id -> kind (a key of CLASSES)."""

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            site_id = self.path.strip("/").removesuffix(".ics")
            if self.path == NEWS_PATH:
                body, content_type = city_news_rss(today()), "application/rss+xml"
            elif site_id in sites:
                body = timetable_ics(site_id, sites[site_id], tz_name, today())
                content_type = "text/calendar"
            else:
                self.send_error(404)
                return
            etag = f'"{hashlib.sha256(body).hexdigest()[:16]}"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_body(body, f"{content_type}; charset=utf-8", {"ETag": etag})

    return ThreadingHTTPServer((host, 0), Handler)
