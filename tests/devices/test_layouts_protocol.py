"""The layout, widget and feed parts of the contract (issue 14)."""

from __future__ import annotations

import pytest

from devices.protocol import ContentItem, ItemKind, Manifest, ProtocolError, TextSlide, parse
from devices.protocol.feeds import FeedData
from devices.protocol.layouts import (
    FeedRef,
    LayoutTemplate,
    QrCode,
    Widget,
    WidgetKind,
    build_layout,
)
from devices.protocol.topics import FeedTopic, feed_topic, parse_topic
from testkit.messages import T0, manifest


@pytest.mark.parametrize("template", list(LayoutTemplate))
@pytest.mark.parametrize("size", [(1920, 1080), (1080, 1920), (1366, 768)])
def test_every_template_tiles_the_canvas_exactly(template, size):
    width, height = size
    layout = build_layout(template, width, height)
    assert sum(zone.width_px * zone.height_px for zone in layout.zones) == width * height
    for zone in layout.zones:
        assert zone.box[2] <= width and zone.box[3] <= height
    boxes = [zone.box for zone in layout.zones]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            overlap_w = min(a[2], b[2]) - max(a[0], b[0])
            overlap_h = min(a[3], b[3]) - max(a[1], b[1])
            assert overlap_w <= 0 or overlap_h <= 0, (a, b)


def ticker_item(feed: str = "news") -> ContentItem:
    return ContentItem(
        id="ticker-1",
        kind=ItemKind.WIDGET,
        zone="ticker",
        widget=Widget(kind=WidgetKind.TICKER, feed=feed),
        duration_s=30,
    )


def test_a_manifest_with_a_layout_round_trips_and_items_name_their_zone():
    layout = build_layout(LayoutTemplate.MAIN_SIDE_TICKER_CLOCK, 1920, 1080)
    m = manifest(
        layout=layout,
        feeds=(FeedRef(id="news", name="Council news"),),
        default_items=(
            ticker_item(),
            ContentItem(
                id="promo",
                kind=ItemKind.TEXT,
                text=TextSlide(title="Swim"),
                duration_s=10,
                qr=QrCode(url="https://cms.example/l/abc", caption="Book"),
                share_s_per_hour=600,
            ),
        ),
    )
    assert parse(Manifest, m.encode()) == m


def test_an_item_for_a_zone_the_layout_lacks_is_refused_naming_it():
    with pytest.raises(ValueError, match="zone 'ticker'"):
        manifest(default_items=(ticker_item(),), feeds=(FeedRef(id="news", name="n"),))


def test_a_widget_on_a_feed_the_manifest_does_not_carry_is_refused():
    layout = build_layout(LayoutTemplate.MAIN_TICKER, 1920, 1080)
    with pytest.raises(ValueError, match="feed 'news'"):
        manifest(layout=layout, default_items=(ticker_item(),))


def test_a_zone_outside_the_canvas_is_refused():
    too_big = build_layout(LayoutTemplate.MAIN_SIDE, 3840, 2160)
    with pytest.raises(ValueError, match="outside the 1920x1080 canvas"):
        manifest(layout=too_big)


def test_feed_widgets_need_a_feed_and_a_countdown_needs_its_instant():
    with pytest.raises(ValueError, match="needs `feed`"):
        Widget(kind=WidgetKind.TIMETABLE)
    with pytest.raises(ValueError, match="countdown_to"):
        Widget(kind=WidgetKind.COUNTDOWN)


def test_manifests_without_layouts_are_written_as_before():
    wire = manifest().encode()
    for name in (b'"layout"', b'"feeds"', b'"zone"', b'"widget"', b'"qr"', b'"share_s_per_hour"'):
        assert name not in wire


def test_feed_data_round_trips_on_its_own_topic():
    data = FeedData(id="classes", version=3, fetched_at=T0, entries=())
    assert parse(FeedData, data.encode()) == data
    assert parse_topic(feed_topic("classes")) == FeedTopic("classes")
    with pytest.raises(ProtocolError):
        feed_topic("Not An Id")
