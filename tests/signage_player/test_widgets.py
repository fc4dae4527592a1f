"""What each widget says at an instant, in the site's local time, and that its tile is
drawn in its colours at the zone's size (pure functions, no player thread)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from devices.protocol.feeds import FeedData, FeedEntry
from devices.protocol.layouts import Widget, WidgetKind
from signage_player.render import hex_colour
from signage_player.widgets import (
    TICKER_STEP_S,
    UNAVAILABLE,
    WidgetView,
    no_feeds,
    rows_layout,
    widget_tile,
    widget_view,
)

SYDNEY = ZoneInfo("Australia/Sydney")
# 23:58 on Saturday 4 April 2026 in Sydney (AEDT, UTC+11), the night the clocks go back.
LATE = datetime(2026, 4, 4, 23, 58, 30, tzinfo=SYDNEY)


def words(view: WidgetView) -> list[str]:
    return [block.text for block in view.blocks]


def feed(*entries: FeedEntry, feed_id: str = "events") -> FeedData:
    return FeedData(id=feed_id, version=3, fetched_at=LATE - timedelta(hours=1), entries=entries)


def event(title: str, start: datetime, minutes: int = 60, location: str = "") -> FeedEntry:
    return FeedEntry(
        title=title, starts_at=start, ends_at=start + timedelta(minutes=minutes), location=location
    )


def provider(data: FeedData):
    return lambda feed_id: data if feed_id == data.id else None


def test_clock_shows_the_sites_local_time_and_turns_on_the_minute() -> None:
    clock = Widget(kind=WidgetKind.CLOCK)
    view = widget_view(clock, LATE.astimezone(UTC), SYDNEY, no_feeds)
    assert words(view) == ["23:58", "Saturday 4 April"]
    assert view.changes_at == datetime(2026, 4, 4, 23, 59, tzinfo=SYDNEY)
    # In Perth the same instant is 20:58.
    perth = widget_view(clock, LATE, ZoneInfo("Australia/Perth"), no_feeds)
    assert words(perth)[0] == "20:58"
    # Ten seconds later, the same view: the player does not redraw the clock.
    assert widget_view(clock, LATE + timedelta(seconds=10), SYDNEY, no_feeds) == view


def test_countdown_counts_down_and_then_says_now_on() -> None:
    opening = datetime(2026, 4, 6, 9, 30, tzinfo=SYDNEY)
    widget = Widget(kind=WidgetKind.COUNTDOWN, title="Pool reopens in", countdown_to=opening)
    assert words(widget_view(widget, LATE, SYDNEY, no_feeds)) == [
        "Pool reopens in",
        "1 day 10 hours",  # 34 h 31 min 30 s, across the extra hour of the fall-back
    ]
    near = opening - timedelta(minutes=3, seconds=20)
    assert words(widget_view(widget, near, SYDNEY, no_feeds))[1] == "4 min"
    assert words(widget_view(widget, opening - timedelta(hours=2), SYDNEY, no_feeds))[1] == (
        "2 hours 00 min"
    )
    assert words(widget_view(widget, opening, SYDNEY, no_feeds))[1] == "Now on"


def test_ticker_shows_one_headline_after_another() -> None:
    news = feed(FeedEntry(title="Library open late"), FeedEntry(title="Pool reopens"), feed_id="n")
    ticker = Widget(kind=WidgetKind.TICKER, feed="n")
    start = datetime(2026, 4, 4, 12, 0, tzinfo=UTC)  # a multiple of TICKER_STEP_S
    first = widget_view(ticker, start, SYDNEY, provider(news))
    second = widget_view(ticker, start + timedelta(seconds=TICKER_STEP_S), SYDNEY, provider(news))
    assert (words(first), words(second)) == (["Library open late"], ["Pool reopens"])
    assert first.changes_at == start + timedelta(seconds=TICKER_STEP_S)
    again = start + timedelta(seconds=2 * TICKER_STEP_S + 3)
    assert words(widget_view(ticker, again, SYDNEY, provider(news))) == ["Library open late"]


def test_next_up_lists_what_is_on_now_and_next_in_start_order() -> None:
    night = feed(
        event("Late swim", LATE + timedelta(hours=1), location="Pool"),
        event("Film night", LATE - timedelta(minutes=90), minutes=120, location="Hall"),
        event("Book club", LATE - timedelta(hours=3)),  # over
    )
    view = widget_view(
        Widget(kind=WidgetKind.NEXT_UP, feed="events"), LATE, SYDNEY, provider(night)
    )
    assert words(view) == ["Next up", "22:28  Film night · Hall", "00:58  Late swim · Pool"]
    # It looks again when Film night ends, or sooner to catch new feed data.
    assert view.changes_at <= LATE + timedelta(minutes=30)


def test_timetable_is_the_sites_local_day_only() -> None:
    # Sunday morning 01:30 Sydney is still Saturday 14:30 UTC: the local day decides.
    saturday = feed(
        event("Aqua aerobics", datetime(2026, 4, 4, 9, tzinfo=SYDNEY), location="Pool"),
        event("Quiz", datetime(2026, 4, 4, 19, 30, tzinfo=SYDNEY), minutes=90),
        event("Market", datetime(2026, 4, 5, 8, tzinfo=SYDNEY)),
    )
    timetable = Widget(kind=WidgetKind.TIMETABLE, feed="events", title="Today at the centre")
    view = widget_view(timetable, LATE, SYDNEY, provider(saturday))
    assert words(view) == [
        "Today at the centre",
        "09:00\N{EN DASH}10:00  Aqua aerobics · Pool",
        "19:30\N{EN DASH}21:00  Quiz",
    ]
    sunday = widget_view(timetable, LATE + timedelta(minutes=5), SYDNEY, provider(saturday))
    assert words(sunday)[1:] == ["08:00\N{EN DASH}09:00  Market"]


def test_a_missing_feed_is_unavailable_never_empty_or_half() -> None:
    widget = Widget(kind=WidgetKind.TIMETABLE, feed="events", background="#00524a")
    view = widget_view(widget, LATE, SYDNEY, no_feeds)
    assert words(view) == ["Today", UNAVAILABLE] or words(view) == [UNAVAILABLE]
    tile = widget_tile(widget, (480, 800), LATE, SYDNEY, no_feeds)
    assert tile.size == (480, 800)
    assert tile.getpixel((2, 2)) == hex_colour("#00524a")


def test_a_long_timetable_shows_whole_rows_and_how_many_more() -> None:
    day = datetime(2026, 4, 4, 7, tzinfo=SYDNEY)
    busy = feed(*(event(f"Session {n}", day + timedelta(minutes=30 * n)) for n in range(30)))
    widget = Widget(kind=WidgetKind.TIMETABLE, feed="events")
    layout = rows_layout(widget_view(widget, LATE, SYDNEY, provider(busy)), (480, 400))
    shown = [laid.block.text for laid in layout.blocks]
    rows = len(shown) - 2  # the heading and the "more" line
    assert 1 <= rows < 30
    assert shown[-1] == f"and {30 - rows} more"
    assert shown[1] == "07:00\N{EN DASH}08:00  Session 0"
    assert layout.fits  # every row whole, none cut with an ellipsis
    # A short day fits whole, at the largest size that does.
    short = feed(*(event(f"Session {n}", day + timedelta(hours=n)) for n in range(3)))
    calm = rows_layout(widget_view(widget, LATE, SYDNEY, provider(short)), (480, 400))
    assert [laid.block.text for laid in calm.blocks][-1].endswith("Session 2")
    assert calm.fits


def test_the_clock_follows_the_clocks_going_back() -> None:
    clock = Widget(kind=WidgetKind.CLOCK)
    # 02:59:30 AEDT on Sunday 5 April 2026; a minute later it is 02:00:30 AEST.
    before = datetime(2026, 4, 4, 15, 59, 30, tzinfo=UTC)
    view = widget_view(clock, before, SYDNEY, no_feeds)
    assert words(view)[0] == "02:59"
    assert view.changes_at == datetime(2026, 4, 4, 16, 0, tzinfo=UTC)
    assert words(widget_view(clock, view.changes_at, SYDNEY, no_feeds))[0] == "02:00"
