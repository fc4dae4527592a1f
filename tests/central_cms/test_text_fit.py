"""Issue 13, point 18: text that does not fit a screen is refused (or, when staff choose,
shrunk to fit) by measuring it with the player's renderer and fonts, and a poster whose
small print the LED cannot show gets a warning. Through the editor, SQLite and PostgreSQL.
"""

from __future__ import annotations

import html
import io
import re
from typing import Any

from flask.testing import FlaskClient
from PIL import Image, ImageChops

from central_cms import campaigns
from central_cms import models as m
from central_cms.publisher import RecordingPublisher
from central_cms.runtime import CmsRuntime
from devices.protocol import Channel, ItemKind, Manifest, device_topic, parse_signed
from signage_player.render import render_text_slide
from signage_player.textfit import layout_slide
from testkit.city import World
from testkit.images import bold_led_design, small_print_poster
from testkit.staff import ADMIN, APPROVER, login, make_user

RIVERTON = "School holidays at Riverton Leisureplex — sports camps…"
LED = "led-east-hall"


def roadside_text_form(token: str, title: str, **extra: str) -> dict[str, Any]:
    return {
        "csrf_token": token,
        "name": "Riverton school holidays - cross-promo",
        "owner_site_id": "east-hall",
        "priority": "50",
        "target_sites": ["east-hall"],
        "target_profiles": ["led-small"],
        "items-0-kind": "text",
        "items-0-title": title,
        "items-0-duration_s": "12",
        "items-0-weight": "1",
        "items-0-fit": "fit",
        **extra,
    }


def field_error(page: str, field: str) -> str | None:
    """The message shown beside an editor field, if any."""
    found = re.search(rf'<p class="field-error" id="{field}-error">(.*?)</p>', page, flags=re.S)
    return html.unescape(found.group(1)) if found else None


def test_the_riverton_title_is_refused_beside_its_field_then_shrinks_to_fit_on_the_led(
    client: FlaskClient,
    session,
    rt: CmsRuntime,
    world: World,
    publisher: RecordingPublisher,
) -> None:
    make_user(session, rt, "editor", m.Role.EDITOR)
    token = login(client, "editor")

    refused = client.post("/campaigns/new", data=roadside_text_form(token, RIVERTON))
    assert refused.status_code == 400
    message = field_error(refused.text, "items-0-title")
    assert message is not None, "the refusal is not beside the title field"
    assert "Item 1" in message and "Led-Small (192x96)" in message
    assert "cut it off at “School holidays at…”" in message
    assert "tick “Shrink to fit”" in message
    assert 'aria-describedby="items-0-title-error"' in refused.text
    assert session.query(m.Campaign).count() == 0  # nothing saved

    short = client.post("/campaigns/new", data=roadside_text_form(token, "School zone 40"))
    assert short.status_code == 302

    saved = client.post(
        "/campaigns/new",
        data=roadside_text_form(token, RIVERTON, **{"items-0-shrink_to_fit": "on"}),
    )
    assert saved.status_code == 302, field_error(saved.text, "items-0-title")
    campaign_id = saved.headers["Location"].rsplit("/", 1)[-1]
    edit = client.get(f"/campaigns/{campaign_id}/edit")
    assert re.search(r'id="items-0-shrink_to_fit"[^>]*checked', edit.text)  # kept on edit

    publisher.sent.clear()
    campaigns.submit(session, rt, ADMIN, campaign_id)
    if session.get(m.Campaign, campaign_id).status == m.CampaignStatus.PENDING:
        campaigns.approve(session, rt, APPROVER, campaign_id)
    topic = device_topic(LED, Channel.MANIFEST)
    payload = [p for t, p, _ in publisher.sent if t == topic][-1]
    manifest = parse_signed(Manifest, payload, [rt.signing_key.public_key])
    (item,) = [i for i in manifest.items if i.campaign_id == campaign_id]
    assert item.kind is ItemKind.TEXT and item.text is not None
    assert item.text.shrink_to_fit  # carried to the player in the manifest item

    # The player draws every word inside the LED canvas.
    canvas = (manifest.profile.width_px, manifest.profile.height_px)
    frame = render_text_slide(item.text, canvas, title_only=True)
    layout = layout_slide(item.text, canvas, title_only=True)
    assert " ".join(line for b in layout.blocks for line in b.lines) == RIVERTON
    background = Image.new("RGB", canvas, item.text.background)
    box = ImageChops.difference(frame, background).getbbox()
    assert box is not None
    assert box[0] > 0 and box[1] > 0 and box[2] < canvas[0] and box[3] < canvas[1]


def upload(client: FlaskClient, token: str, title: str, data: bytes) -> int:
    response = client.post(
        "/media/upload",
        data={"csrf_token": token, "title": title, "file": (io.BytesIO(data), f"{title}.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code in (302, 303), response.text
    return int(
        re.findall(
            r'<option value="(\d+)"[^>]*>' + re.escape(title), client.get("/campaigns/new").text
        )[0]
    )


def image_form(token: str, media_id: int, profile: str) -> dict[str, Any]:
    return {
        "csrf_token": token,
        "name": "School holidays poster",
        "owner_site_id": "east-hall",
        "priority": "50",
        "target_sites": ["east-hall"],
        "target_profiles": [profile],
        "items-0-kind": "image",
        "items-0-media_id": str(media_id),
        "items-0-duration_s": "12",
        "items-0-weight": "1",
        "items-0-fit": "fit",
        "items-0-alt_text": "School holidays at Riverton",
    }


def warnings_after(client: FlaskClient, token: str, media_id: int, profile: str) -> list[str]:
    saved = client.post("/campaigns/new", data=image_form(token, media_id, profile))
    assert saved.status_code == 302  # a warning never refuses
    page = client.get(saved.headers["Location"]).text
    return [
        html.unescape(w)
        for w in re.findall(r'<p class="message warning">(.*?)</p>', page, flags=re.S)
    ]


def test_a_small_print_poster_is_warned_about_for_the_led_and_a_led_design_is_not(
    client: FlaskClient, session, rt: CmsRuntime, world: World
) -> None:
    make_user(session, rt, "editor", m.Role.EDITOR)
    token = login(client, "editor")
    poster = upload(client, token, "Holidays poster", small_print_poster())
    led_design = upload(client, token, "Holidays LED", bold_led_design())

    (warning,) = warnings_after(client, token, poster, "led-small")
    assert warning.startswith("Item 1 (School holidays at Riverton): this poster's small print")
    assert re.search(r"will be 1 px tall on the 192x96 roadside screen “Led-Small”", warning)
    assert "use a design made for that screen" in warning

    assert warnings_after(client, token, led_design, "led-small") == []
    assert warnings_after(client, token, poster, "indoor") == []  # fine on a 1080p screen
