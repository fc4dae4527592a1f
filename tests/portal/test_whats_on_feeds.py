"""The splash's "What's on" lists the next classes and events from the site's live feeds
(the same signed copies the screens show): what is over is gone, a copy older than the
feed's age limit is not shown, and the copies reach the web workers through the node's
snapshot file."""

from __future__ import annotations

from datetime import timedelta

from devices.protocol.feeds import FeedData, FeedEntry
from devices.protocol.layouts import FeedRef
from portal.relay import read_snapshot, write_snapshot
from testkit.portal import NOW, portal_manifest

REF = FeedRef(id="cannington-classes", name="Cannington classes", max_age_s=6 * 3600)


def timetable(version: int = 1) -> FeedData:
    # NOW is 10:00 on Tuesday 24 November in Perth (02:00 UTC).
    def at(hours: float):
        return NOW + timedelta(hours=hours)

    return FeedData(
        id=REF.id,
        version=version,
        fetched_at=NOW - timedelta(minutes=10),
        entries=(
            FeedEntry(title="Early swim squad", starts_at=at(-3), ends_at=at(-2)),
            FeedEntry(title="Aquarobics", starts_at=at(1), ends_at=at(2), location="Main pool"),
            FeedEntry(title="Learn to swim", starts_at=at(24), ends_at=at(25)),
        ),
    )


def splash_html(portal) -> str:
    visitor = portal.visitor()
    page = portal.client.get(visitor.splash_url(), environ_base=visitor.environ)
    assert page.status_code == 200
    return str(page.get_data(as_text=True))


def test_whats_on_lists_the_next_classes_from_the_sites_feed_until_the_copy_is_too_old(portal):
    portal.source.set(portal_manifest(feeds=(REF,)), feeds=(timetable(),))
    html = splash_html(portal)
    assert "What&#39;s on" in html or "What's on" in html
    assert "Aquarobics" in html and "Tue 24 Nov, 11:00\u201312:00" in html
    assert "Main pool" in html
    assert html.index("Aquarobics") < html.index("Learn to swim")
    assert "Early swim squad" not in html  # over already

    portal.clock.advance(timedelta(hours=6))  # the copy is now over six hours old
    assert "Learn to swim" not in splash_html(portal)


def test_a_feed_the_manifest_does_not_name_is_not_shown(portal):
    portal.source.set(portal_manifest(), feeds=(timetable(),))
    assert "Aquarobics" not in splash_html(portal)


def test_the_node_hands_the_feed_copies_to_its_web_workers(tmp_path):
    path = tmp_path / "view.json"
    write_snapshot(path, portal_manifest(feeds=(REF,)), (), (timetable(version=7),))
    snapshot = read_snapshot(path, generation=3)
    assert snapshot.feeds == (timetable(version=7),)
    assert snapshot.manifest is not None and snapshot.manifest.feeds == (REF,)
