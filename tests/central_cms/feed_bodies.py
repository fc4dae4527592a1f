"""Feed bodies as real sources send them: a booking system's weekly classes (iCal with
repeat rules) and a news site's RSS."""

from __future__ import annotations


def classes_ics(*, title: str = "North Pool classes", extra: str = "") -> bytes:
    """Aquarobics every Tuesday and Thursday at 09:00 Perth time, from 24 November 2026,
    and a one-off lecture; `extra` is added to the first event's name."""
    return (
        "BEGIN:VCALENDAR\r\n"
        "VERSION:2.0\r\n"
        "PRODID:-//Bookings//Test//EN\r\n"
        f"X-WR-CALNAME:{title}\r\n"
        "BEGIN:VEVENT\r\n"
        "UID:aqua-1@bookings.example.org\r\n"
        "DTSTAMP:20261101T000000Z\r\n"
        "DTSTART;TZID=Australia/Perth:20261124T090000\r\n"
        "DTEND;TZID=Australia/Perth:20261124T100000\r\n"
        "RRULE:FREQ=WEEKLY;BYDAY=TU,TH\r\n"
        f"SUMMARY:Aquarobics{extra}\r\n"
        "LOCATION:Café pool\r\n"
        "URL:https://bookings.example.org/aquarobics\r\n"
        "END:VEVENT\r\n"
        "BEGIN:VEVENT\r\n"
        "UID:talk-1@bookings.example.org\r\n"
        "DTSTAMP:20261101T000000Z\r\n"
        "DTSTART:20261202T100000Z\r\n"
        "DTEND:20261202T110000Z\r\n"
        "SUMMARY:Water safety talk\r\n"
        "END:VEVENT\r\n"
        "END:VCALENDAR\r\n"
    ).encode()


def news_rss(count: int = 6) -> bytes:
    items = "".join(
        f"<item><title>Headline {n}</title><link>https://news.example.org/{n}</link>"
        f"<description>&lt;p&gt;Story {n}&lt;/p&gt;</description></item>"
        for n in range(1, count + 1)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<rss version="2.0"><channel><title>City news</title>{items}</channel></rss>'
    ).encode()


def day_classes_ics(classes: list[tuple[str, str, str, int, str]], tz: str) -> bytes:
    """One-off classes as a booking system exports them: (day ISO, HH:MM, name, minutes,
    room) each, at wall times in `tz`."""
    from datetime import datetime, timedelta

    events = []
    for number, (day, start, name, minutes, room) in enumerate(classes, 1):
        begins = datetime.fromisoformat(f"{day}T{start}")
        ends = begins + timedelta(minutes=minutes)
        events.append(
            "BEGIN:VEVENT\r\n"
            f"UID:class-{number}@bookings.example.org\r\n"
            "DTSTAMP:20261101T000000Z\r\n"
            f"DTSTART;TZID={tz}:{begins:%Y%m%dT%H%M%S}\r\n"
            f"DTEND;TZID={tz}:{ends:%Y%m%dT%H%M%S}\r\n"
            f"SUMMARY:{name}\r\n"
            f"LOCATION:{room}\r\n"
            "END:VEVENT\r\n"
        )
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Bookings//Test//EN\r\n"
        f"X-WR-CALNAME:Pool classes\r\n{''.join(events)}END:VCALENDAR\r\n"
    ).encode()
