"""Widgets the player draws itself from live data: clock, countdown, ticker, next up and
today's timetable (issue 14). Pure: a widget, an instant, the site's time zone and the
feeds in; what to draw (a `WidgetView`) and the tile out.

Two steps, so a zone is redrawn only when what it shows changes: `widget_view` decides
the words (and when they next change), `draw_widget` draws them. The player keys its tile
cache by the view, so a clock whose minute has not turned costs nothing.

Feeds come through a `FeedProvider`: feed id to the last good data, or None when the
device has none or it is older than the manifest allows. Then the widget says politely
that the information is unavailable: never half a feed, never stale entries as if current.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from PIL import Image

from devices.protocol.feeds import FeedData, FeedEntry
from devices.protocol.layouts import Widget, WidgetKind
from signage_player.render import Size, draw_layout, hex_colour
from signage_player.textfit import (
    SHRINK_STEP,
    Block,
    TextLayout,
    fit_text,
    layout_text,
    shrink_floor,
)

FeedProvider = Callable[[str], FeedData | None]

UNAVAILABLE = "This information is not available right now"
TICKER_STEP_S = 8  # each headline shows this long, one after another
NEXT_UP_COUNT = 4
# Feed data can arrive or age out at any moment: widgets that show a feed look again this
# often even when nothing they show is due to change.
FEED_RECHECK = timedelta(seconds=30)
_MINUTE = timedelta(minutes=1)
_NEVER = datetime.max.replace(tzinfo=UTC)


def no_feeds(_feed_id: str) -> FeedData | None:
    """The provider of a player with no feed store: every feed widget says unavailable."""
    return None


@dataclass(frozen=True)
class WidgetView:
    """What a widget shows at an instant: hashable, so equal views share one tile."""

    blocks: tuple[Block, ...]
    centre: bool = True
    rows: bool = False  # a list (next up, timetable): whole rows only, "and N more"
    # The next instant the words may change (UTC). Not part of what is drawn.
    changes_at: datetime = field(compare=False, default=_NEVER)


def widget_view(widget: Widget, now: datetime, tz: ZoneInfo, feeds: FeedProvider) -> WidgetView:
    """What `widget` shows at `now` in the site's zone `tz`."""
    local = now.astimezone(tz)
    if widget.kind is WidgetKind.CLOCK:
        return _clock(widget, local)
    if widget.kind is WidgetKind.COUNTDOWN:
        return _countdown(widget, local)
    assert widget.feed is not None  # the protocol requires it for feed widgets
    data = feeds(widget.feed)
    if data is None:
        return _unavailable(widget, now)
    if widget.kind is WidgetKind.TICKER:
        return _ticker(widget, data, now)
    if widget.kind is WidgetKind.NEXT_UP:
        return _next_up(widget, data, local)
    return _timetable(widget, data, local)


def draw_widget(widget: Widget, view: WidgetView, size: Size) -> Image.Image:
    """The widget's tile: its words in its colours, fitted to `size` with the player's
    own text layout (shrunk to the legibility floor, then cut with an ellipsis). A list
    shrinks until each row shows whole; a clock or headline keeps its large type."""
    blocks = list(view.blocks)
    if view.rows:
        layout = rows_layout(view, size)
    else:
        layout = fit_text(blocks, size, shrink_floor(blocks, size), every_word=False)
    return draw_layout(
        layout, hex_colour(widget.background), hex_colour(widget.foreground), centre=view.centre
    )


def widget_tile(
    widget: Widget, size: Size, now: datetime, tz: ZoneInfo, feeds: FeedProvider
) -> Image.Image:
    """Both steps at once (previews, tests)."""
    return draw_widget(widget, widget_view(widget, now, tz, feeds), size)


# --- the views ------------------------------------------------------------------------------


def _next_minute(local: datetime) -> datetime:
    # In UTC: on wall time, 02:59 + 1 min on a fall-back night would be an hour late.
    # Every zone in use today is offset from UTC by whole minutes.
    return local.astimezone(UTC).replace(second=0, microsecond=0) + _MINUTE


def _heading(widget: Widget, default: str, share: float = 0.14) -> list[Block]:
    title = widget.title or default
    return [Block(title, share, bold=True, max_lines=1, name="title")] if title else []


def _clock(widget: Widget, local: datetime) -> WidgetView:
    blocks = [
        *_heading(widget, "", 0.14),
        Block(f"{local:%H:%M}", 0.42, bold=True, max_lines=1, name="time"),
        Block(f"{local:%A} {local.day} {local:%B}", 0.16, max_lines=1, name="date"),
    ]
    return WidgetView(tuple(blocks), changes_at=_next_minute(local))


def _countdown(widget: Widget, local: datetime) -> WidgetView:
    assert widget.countdown_to is not None
    # In UTC: Python subtracts two datetimes of one zone by wall time, an hour out across
    # a daylight-saving change.
    left = widget.countdown_to.astimezone(UTC) - local.astimezone(UTC)
    if left <= timedelta(0):
        words = "Now on"
    else:
        # Rounded up: "1 min" until the very moment, never "0 min" before it.
        days, minutes = divmod(math.ceil(left.total_seconds() / 60), 24 * 60)
        hours, minutes = divmod(minutes, 60)
        if days:
            words = f"{_plural(days, 'day')} {_plural(hours, 'hour')}"
        elif hours:
            words = f"{_plural(hours, 'hour')} {minutes:02d} min"
        else:
            words = f"{minutes} min"
    blocks = [*_heading(widget, "", 0.16), Block(words, 0.34, bold=True, max_lines=2)]
    # After the moment itself nothing changes any more.
    changes = _next_minute(local) if left > timedelta(0) else _NEVER
    return WidgetView(tuple(blocks), changes_at=changes)


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}{'' if count == 1 else 's'}"


def _unavailable(widget: Widget, now: datetime) -> WidgetView:
    blocks = [*_heading(widget, ""), Block(UNAVAILABLE, 0.1, max_lines=3)]
    return WidgetView(tuple(blocks), changes_at=now.astimezone(UTC) + FEED_RECHECK)


def _ticker(widget: Widget, data: FeedData, now: datetime) -> WidgetView:
    """One headline at a time, in feed order, each for TICKER_STEP_S, chosen from the
    clock so that every screen of a site shows the same headline at the same moment."""
    headlines = [entry.title for entry in data.entries if entry.title.strip()]
    recheck = now.astimezone(UTC) + FEED_RECHECK
    if not headlines:
        return WidgetView((Block("No news right now", 0.4, max_lines=1),), changes_at=recheck)
    seconds = int(now.timestamp())
    index = (seconds // TICKER_STEP_S) % len(headlines)
    text = f"{widget.title}: {headlines[index]}" if widget.title else headlines[index]
    step_ends = datetime.fromtimestamp((seconds // TICKER_STEP_S + 1) * TICKER_STEP_S, UTC)
    changes = step_ends if len(headlines) > 1 else recheck
    return WidgetView(
        (Block(text, 0.42, bold=True, max_lines=1),), changes_at=min(changes, recheck)
    )


def _time(instant: datetime, tz: ZoneInfo) -> str:
    return f"{instant.astimezone(tz):%H:%M}"


def _row(entry: FeedEntry, tz: ZoneInfo, *, with_end: bool) -> str:
    assert entry.starts_at is not None
    when = _time(entry.starts_at, tz)
    if with_end and entry.ends_at is not None:
        when += f"\N{EN DASH}{_time(entry.ends_at, tz)}"
    where = f" · {entry.location}" if entry.location else ""
    return f"{when}  {entry.title}{where}"


def _events(data: FeedData) -> list[FeedEntry]:
    """Entries with a start time, in start order (a feed may list them in any order)."""
    timed = [entry for entry in data.entries if entry.starts_at is not None]
    return sorted(timed, key=lambda entry: (entry.starts_at or _NEVER).astimezone(UTC))


def _boundaries(entries: Sequence[FeedEntry], after: datetime) -> list[datetime]:
    return [
        instant.astimezone(UTC)
        for entry in entries
        for instant in (entry.starts_at, entry.ends_at)
        if instant is not None and instant.astimezone(UTC) > after
    ]


def _next_up(widget: Widget, data: FeedData, local: datetime) -> WidgetView:
    """The next few entries that have not finished: on now, or starting later."""
    tz = local.tzinfo
    assert isinstance(tz, ZoneInfo)
    now = local.astimezone(UTC)  # compared in UTC: wall-time comparison is wrong at a fall-back
    coming = [entry for entry in _events(data) if _still_on(entry, now)][:NEXT_UP_COUNT]
    rows = [
        Block(_row(entry, tz, with_end=False), 0.06, max_lines=2, name="entry") for entry in coming
    ] or [Block("Nothing else coming up", 0.06, max_lines=2)]
    changes = min([*_boundaries(coming, now), now + FEED_RECHECK])
    heading = _heading(widget, "Next up", 0.09)
    return WidgetView((*heading, *rows), centre=False, rows=True, changes_at=changes)


def _still_on(entry: FeedEntry, now: datetime) -> bool:
    end = entry.ends_at or entry.starts_at
    return end is not None and end.astimezone(UTC) > now


def _timetable(widget: Widget, data: FeedData, local: datetime) -> WidgetView:
    """Every entry starting on the site's local day, in time order; when they do not all
    fit, as many as fit and a line saying how many more there are."""
    tz = local.tzinfo
    assert isinstance(tz, ZoneInfo)
    today = [
        entry
        for entry in _events(data)
        if entry.starts_at is not None and entry.starts_at.astimezone(tz).date() == local.date()
    ]
    heading = _heading(widget, "Today", 0.09)
    rows = [
        Block(_row(entry, tz, with_end=True), 0.05, max_lines=2, name="entry") for entry in today
    ]
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    changes = min(midnight.astimezone(UTC), local.astimezone(UTC) + FEED_RECHECK)
    if not rows:
        rows = [Block("Nothing on today", 0.05, max_lines=1)]
    return WidgetView((*heading, *rows), centre=False, rows=True, changes_at=changes)


def rows_layout(view: WidgetView, size: Size) -> TextLayout:
    """A list laid out so that every row left shows whole: all rows at the largest size
    that fits (down to the legibility floor); if they do not fit even then, as many as
    fit at the floor and an "and N more" line. Never a row cut in half."""
    blocks = list(view.blocks)
    heading = [b for b in blocks if b.name == "title"]
    rows = [b for b in blocks if b.name != "title"]
    floor = shrink_floor(blocks, size)
    whole = _largest_fitting(blocks, size, floor)
    if whole is not None or len(rows) <= 1:
        return whole or layout_text(blocks, size, floor)

    def kept(keep: int) -> list[Block]:
        more = Block(f"and {len(rows) - keep} more", rows[0].height_share, max_lines=1)
        return [*heading, *rows[:keep], more]

    # Fewer rows never need more room, so search for the most that fit.
    low, high = 0, len(rows) - 1
    while low < high:
        middle = (low + high + 1) // 2
        if layout_text(kept(middle), size, floor).fits:
            low = middle
        else:
            high = middle - 1
    return _largest_fitting(kept(low), size, floor) or layout_text(kept(low), size, floor)


def _largest_fitting(blocks: list[Block], size: Size, floor: float) -> TextLayout | None:
    """The layout at the largest of fit_text's scales (1, 0.95, 0.95², ... down to
    `floor`) at which everything fits, found by bisection; None if none does."""
    scales = [1.0]
    while scales[-1] * SHRINK_STEP >= floor - 1e-9:
        scales.append(scales[-1] * SHRINK_STEP)
    if scales[-1] > floor:
        scales.append(floor)
    low, high = 0, len(scales) - 1
    if not layout_text(blocks, size, scales[high]).fits:
        return None
    while low < high:  # scales[high] fits; find the first (largest) that does
        middle = (low + high) // 2
        if layout_text(blocks, size, scales[middle]).fits:
            high = middle
        else:
            low = middle + 1
    return layout_text(blocks, size, scales[low])
