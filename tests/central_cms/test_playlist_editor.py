"""The playlist editor over HTTP, as a browser without JavaScript uses it: items move with
plain submit buttons, focus stays on the moved item, saving keeps the order."""

from __future__ import annotations

import re

from central_cms import models as m
from central_cms.playlist_models import Playlist
from testkit.staff import login, make_user

TITLES = ["Swim lessons", "Gym intro", "Yoga", "Aqua fit", "Kids club", "Sauna"]


def form(token: str, titles: list[str], **extra: str) -> dict[str, str]:
    data = {"csrf_token": token, "name": "Foyer loop", "owner_site_id": "north-pool"}
    data["rows"] = str(len(titles))
    for n, title in enumerate(titles):
        data |= {f"items-{n}-kind": "text", f"items-{n}-title": title, f"items-{n}-duration_s": "8"}
    return data | extra


def shown_order(html: str) -> list[str]:
    return re.findall(r'name="items-\d+-title" value="([^"]*)"', html)


def test_moving_items_without_javascript_then_saving_keeps_the_order(client, session, rt, world):
    make_user(session, rt, "editor", m.Role.EDITOR)
    token = login(client, "editor")

    moved = client.post("/playlists/new", data=form(token, TITLES, action="move:3:up"))
    assert moved.status_code == 200
    order = shown_order(moved.text)
    assert order == ["Swim lessons", "Gym intro", "Aqua fit", "Yoga", "Kids club", "Sauna"]
    # Focus stays on the moved item's button; the page says it is not saved yet.
    assert re.search(r'id="move-2-up"[^>]*autofocus', moved.text)
    assert "Moved “Aqua fit” to position 3 of 6. Save the playlist to keep the new order." in (
        moved.text.replace("&#8220;", "“").replace("&#8221;", "”")
    )
    assert session.query(Playlist).count() == 0

    # Moving the top item up is not offered; moved to the top, focus goes to its Move down.
    top = client.post("/playlists/new", data=form(token, order, action="move:1:up"))
    assert re.search(r'id="move-0-up"[^>]*disabled', top.text)
    assert re.search(r'id="move-0-down"[^>]*autofocus', top.text)

    saved = client.post("/playlists/new", data=form(token, shown_order(top.text), action="save"))
    assert saved.status_code == 302
    playlist = session.query(Playlist).one()
    assert [i.text["title"] for i in playlist.items] == [
        "Gym intro",
        "Swim lessons",
        "Aqua fit",
        "Yoga",
        "Kids club",
        "Sauna",
    ]


def test_a_problem_is_shown_beside_the_item_field_it_concerns(client, session, rt, world):
    make_user(session, rt, "editor", m.Role.EDITOR)
    token = login(client, "editor")
    data = form(token, TITLES[:2], action="save") | {"items-1-duration_s": "0"}
    refused = client.post("/playlists/new", data=data)
    assert refused.status_code == 400
    beside = re.search(
        r'<p class="field-error" id="items-1-duration_s-error">([^<]*)</p>', refused.text
    )
    assert beside and beside.group(1) == "Item 2 (Gym intro): show it for 1 s to 3600 s."
    assert 'id="items-1-duration_s" name="items-1-duration_s"' in refused.text
    assert refused.text.count("show it for 1 s to 3600 s") == 1


def test_a_viewer_cannot_edit_playlists(client, session, rt, world):
    make_user(session, rt, "viewer", m.Role.VIEWER)
    token = login(client, "viewer")
    assert client.get("/playlists/").status_code == 200
    assert client.post("/playlists/new", data=form(token, TITLES)).status_code == 403
