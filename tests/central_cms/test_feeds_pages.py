"""Staff manage live feeds on the Live feeds page: a site editor adds one for their pool
(and no other site's, nor the city's), mistakes are shown beside their field, a failing
feed is flagged on the page and on the start page, and viewers only look."""

from __future__ import annotations

from datetime import timedelta

from central_cms import models as m
from central_cms.feeds.models import Feed
from testkit.staff import login, make_user


def _form(**changes: str) -> dict[str, str]:
    form = {
        "id": "pool-classes",
        "name": "Pool classes",
        "url": "https://bookings.example.org/pool.ics",
        "kind": "ical",
        "site_id": "north-pool",
        "refresh_minutes": "15",
        "max_age_hours": "24",
    }
    form.update(changes)
    return form


def test_a_site_editor_adds_a_feed_for_their_site_only(client, session, rt, world):
    make_user(session, rt, "pool-editor", m.Role.EDITOR, sites=["north-pool"])
    session.commit()
    token = login(client, "pool-editor")
    page = client.get("/feeds/new").text
    assert "North Pool" in page and "South Library" not in page and "Whole city" not in page

    for site_id in ("south-library", ""):
        refused = client.post("/feeds/new", data=_form(site_id=site_id, csrf_token=token))
        assert refused.status_code == 403
    saved = client.post("/feeds/new", data=_form(csrf_token=token))
    assert saved.status_code == 302
    listing = client.get("/feeds/").text
    assert "Pool classes" in listing and "Not fetched yet" in listing
    feed = session.get(Feed, "pool-classes")
    assert feed is not None and feed.site_id == "north-pool" and feed.max_age_s == 86400


def test_mistakes_are_shown_beside_their_field(client, session, rt, world):
    token = login_admin(client, session, rt)
    answer = client.post(
        "/feeds/new",
        data=_form(url="ftp://bookings.example.org/x", refresh_minutes="often", csrf_token=token),
    )
    assert answer.status_code == 400
    page = answer.text
    assert 'id="url-error"' in page and "starting with https://" in page
    assert 'id="refresh_minutes-error"' in page and "5 to 1440 minutes" in page
    assert page.count('aria-invalid="true"') == 2
    assert session.get(Feed, "pool-classes") is None


def test_a_failing_feed_is_flagged_on_the_feeds_page_and_the_start_page(
    client, session, rt, world, clock
):
    token = login_admin(client, session, rt)
    assert client.post("/feeds/new", data=_form(csrf_token=token)).status_code == 302
    feed = session.get(Feed, "pool-classes")
    assert feed is not None
    feed.last_ok_at = clock.now() - timedelta(hours=3)
    feed.entries = [{"title": "Aquarobics"}]
    feed.last_error = "the source answered HTTP 503 Service Unavailable"
    session.commit()
    listing = client.get("/feeds/").text
    assert "The last fetch failed: the source answered HTTP 503" in listing
    assert "Screens show the last good copy, 3 hours old, for 21 hours more." in listing
    assert "1 live feed needs attention" in client.get("/").text

    clock.advance(timedelta(hours=22))  # now 25 hours without a good copy
    assert "Screens no longer show this feed" in client.get("/feeds/").text


def test_viewers_see_feeds_but_cannot_change_them_and_forms_need_the_csrf_token(
    client, session, rt, world
):
    token = login_admin(client, session, rt)
    assert client.post("/feeds/new", data=_form(csrf_token=token)).status_code == 302
    assert client.post("/feeds/new", data=_form(id="no-token")).status_code == 400
    client.post("/logout", data={"csrf_token": token})
    make_user(session, rt, "viewer", m.Role.VIEWER)
    session.commit()
    token = login(client, "viewer")
    listing = client.get("/feeds/").text
    assert "Pool classes" in listing and "Add a feed" not in listing and "Delete" not in listing
    assert client.post("/feeds/pool-classes/delete", data={"csrf_token": token}).status_code == 403
    assert session.get(Feed, "pool-classes") is not None


def login_admin(client, session, rt) -> str:
    make_user(session, rt, "feeds-admin", m.Role.ADMIN)
    session.commit()
    return login(client, "feeds-admin")


def test_a_new_playlist_offers_the_feeds_of_the_editors_sites_and_the_citys(
    client, session, rt, world
):
    for feed_id, site_id in (
        ("pool-classes", "north-pool"),
        ("library-events", "south-library"),
        ("city-news", None),
    ):
        session.add(
            Feed(
                id=feed_id,
                name=feed_id.replace("-", " ").title(),
                url=f"https://example.org/{feed_id}",
                kind="ical",
                site_id=site_id,
                created_at=rt.clock.now(),
            )
        )
    make_user(session, rt, "pool-editor", m.Role.EDITOR, sites=["north-pool"])
    session.commit()
    login(client, "pool-editor")
    # No owner chosen yet: the pool's own timetable is there to pick for a widget.
    page = client.get("/playlists/new").text
    assert 'value="pool-classes"' in page and 'value="city-news"' in page
    assert 'value="library-events"' not in page
