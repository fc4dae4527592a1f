"""Promotions' links end to end on SQLite and PostgreSQL: a link outside the city's list is
refused beside its field; each indoor screen gets its own short link, the same at every
recompile; a phone's request to /l/<code> on a running CMS is counted for the campaign,
site and screen and redirected to the destination, and never anywhere the city's list
does not allow at the time of the scan."""

from __future__ import annotations

import html
import http.client
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.serving import make_server

from central_cms import campaigns
from central_cms import db as cms_db
from central_cms import models as m
from central_cms.app import create_app
from central_cms.compiler import Targets
from central_cms.config import CmsConfig
from central_cms.link_models import LinkScan, ShortLink
from central_cms.manifests import sync_manifests
from central_cms.publisher import RecordingPublisher
from central_cms.runtime import parts, runtime
from devices.clock import ManualClock
from devices.protocol import ItemKind, Manifest, parse_signed
from testkit.brokers import free_port
from testkit.city import make_world
from testkit.staff import ADMIN, APPROVER, login, make_user

BOOKING = "https://bookings.example.org/swim-school?term=1"


def swim_with_link(world, link: str = BOOKING) -> campaigns.CampaignInput:
    return campaigns.CampaignInput(
        name="Swim school enrolments",
        owner_site_id="north-pool",
        items=(
            campaigns.ItemInput(
                kind=ItemKind.IMAGE,
                media_id=world.media["poster"],
                duration_s=12,
                alt_text="Swim school poster",
                link_url=link,
            ),
        ),
        targets=Targets(sites=frozenset({"north-pool", "south-library"})),
    )


def manifests_sent(publisher: RecordingPublisher, app: Flask) -> dict[str, Manifest]:
    key = runtime(app).signing_key.public_key
    found = {}
    for _topic, payload, _retain in publisher.sent:
        if payload:
            manifest = parse_signed(Manifest, payload, [key])
            found[manifest.device_id] = manifest
    return found


def publish(session, rt, world) -> m.Campaign:
    campaign = campaigns.save(session, rt, ADMIN, swim_with_link(world))
    campaigns.submit(session, rt, ADMIN, campaign.id)
    campaigns.approve(session, rt, APPROVER, campaign.id)
    return campaign


# --- the editor ---------------------------------------------------------------------------


def _campaign_form(token: str, media_id: int, link: str) -> dict[str, str]:
    return {
        "csrf_token": token,
        "name": "Swim school enrolments",
        "owner_site_id": "north-pool",
        "priority": "50",
        "target_sites": "north-pool",
        "items-0-kind": "image",
        "items-0-media_id": str(media_id),
        "items-0-duration_s": "12",
        "items-0-alt_text": "Swim school poster",
        "items-0-link_url": link,
    }


@pytest.mark.parametrize(
    ("link", "said"),
    [
        ("https://shop.example.com/deals", "shop.example.com is not one of the city's approved"),
        ("http://bookings.example.org/swim", "write https://bookings.example.org/swim"),
        ("https://example.org.attacker.test/", "example.org.attacker.test is not one of"),
    ],
)
def test_a_link_the_city_does_not_allow_is_refused_beside_its_field(
    client, session, rt, world, link, said
):
    make_user(session, rt, "editor", m.Role.EDITOR)
    token = login(client, "editor")
    response = client.post(
        "/campaigns/new", data=_campaign_form(token, world.media["poster"], link)
    )
    assert response.status_code == 400
    beside = response.text.split('id="items-0-link_url-error">', 1)
    assert len(beside) == 2, "no error beside the link field"
    message = html.unescape(beside[1].split("</p>", 1)[0])
    assert message.startswith("Item 1 (Swim school poster): ")
    assert said in message
    assert 'aria-invalid="true"' in response.text
    assert session.scalars(select(m.Campaign)).first() is None


def test_an_allowed_link_saves_and_the_editor_lists_where_links_may_go(client, session, rt, world):
    make_user(session, rt, "editor", m.Role.EDITOR)
    token = login(client, "editor")
    assert "Allowed: example.org, *.example.org" in client.get("/campaigns/new").text
    response = client.post(
        "/campaigns/new", data=_campaign_form(token, world.media["poster"], BOOKING)
    )
    assert response.status_code == 302, response.text
    assert session.scalars(select(m.CampaignItem.link_url)).one() == BOOKING


# --- the compiler ------------------------------------------------------------------------


def test_each_indoor_screen_gets_its_own_short_link_the_same_at_every_recompile(
    app, session, rt, world, publisher
):
    publish(session, rt, world)
    sent = manifests_sent(publisher, app)
    pool, library = sent["sig-north-pool"].items[0], sent["sig-south-library"].items[0]
    assert pool.qr is not None and library.qr is not None
    assert pool.qr.url.startswith("http://127.0.0.1:5999/l/")
    assert pool.qr.url != library.qr.url
    assert pool.qr.caption == pool.qr.url.removeprefix("http://")
    # The portal's splash keeps its link as a button; it counts clicks itself.
    splash = sent["portal-north-pool"].items[0]
    assert splash.qr is None and splash.link_url == BOOKING
    issued = {link.device_id: link for link in session.scalars(select(ShortLink))}
    assert set(issued) == {"sig-north-pool", "sig-south-library"}
    assert issued["sig-north-pool"].site_id == "north-pool"
    assert pool.qr.url.endswith(f"/l/{issued['sig-north-pool'].code}")

    publisher.sent.clear()
    report = sync_manifests(session, rt)  # everything recompiled
    assert report.published == {}  # same codes, so nothing changed on any screen
    assert len(session.scalars(select(ShortLink)).all()) == 2


# --- /l/<code> on a running CMS ------------------------------------------------------------


@dataclass
class Served:
    app: Flask
    host: str
    port: int
    publisher: RecordingPublisher

    def get(self, path: str) -> tuple[int, dict[str, str], str]:
        """One request as a phone makes it, not following redirects."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return (
                response.status,
                {k.lower(): v for k, v in response.getheaders()},
                response.read().decode(),
            )
        finally:
            connection.close()


@pytest.fixture
def serve(config: CmsConfig, clock: ManualClock) -> Iterator[Callable[..., Served]]:
    """Start a CMS on a free port over the test's database; stopped after the test."""
    started: list[tuple[object, threading.Thread, Flask]] = []

    def start(**changes: object) -> Served:
        port = free_port()
        publisher = RecordingPublisher()
        app = create_app(
            config.with_changes(**changes), publisher=publisher, clock=clock, renewal=False
        )
        httpd = make_server("127.0.0.1", port, app, threaded=True)
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        started.append((httpd, thread, app))
        return Served(app, "127.0.0.1", port, publisher)

    yield start
    for httpd, thread, app in started:
        httpd.shutdown()  # type: ignore[attr-defined]
        thread.join(10)
        parts(app).close()


def _scans(session) -> list[tuple[str, str, str, int]]:
    session.expire_all()
    return [
        (s.campaign_id, s.site_id, s.device_id, s.scans) for s in session.scalars(select(LinkScan))
    ]


def test_a_scan_is_counted_for_campaign_site_and_screen_and_lands_on_the_booking_page(serve):
    cms = serve()
    session = cms_db.database(cms.app).sessions()
    try:
        world = make_world(session, runtime(cms.app))
        campaign = publish(session, runtime(cms.app), world)
        code = manifests_sent(cms.publisher, cms.app)["sig-north-pool"].items[0].qr
        assert code is not None
        path = urlsplit(code.url).path

        for expected in (1, 2):
            status, headers, _ = cms.get(path)
            assert (status, headers["location"]) == (302, BOOKING)
            assert headers["cache-control"] == "no-store"
            assert _scans(session) == [(campaign.id, "north-pool", "sig-north-pool", expected)]

        status, headers, body = cms.get("/l/abcdefghijkm")
        assert status == 404 and "location" not in headers
        assert "This promotion has ended" in body
        status, headers, _ = cms.get("/l/..%2F..%2Fhttps:evil.example")
        assert status == 404 and "location" not in headers
    finally:
        session.close()


def test_a_code_never_leads_outside_the_list_even_if_it_shrank_after_the_code_was_issued(
    serve,
):
    before = serve()
    session = cms_db.database(before.app).sessions()
    try:
        world = make_world(session, runtime(before.app))
        publish(session, runtime(before.app), world)
        qr = manifests_sent(before.publisher, before.app)["sig-south-library"].items[0].qr
        assert qr is not None
        path = urlsplit(qr.url).path
        assert before.get(path)[0] == 302
        # IT narrows the list to the library's own site and restarts the CMS.
        after = serve(link_destinations=("library.example.org",))
        status, headers, body = after.get(path)
        assert status == 404 and "location" not in headers
        assert "This promotion has ended" in body
        assert [count for *_, count in _scans(session)] == [1]  # the refused one is not counted
    finally:
        session.close()


def test_an_archived_campaigns_code_stops_working(app, client, session, rt, world, publisher):
    campaign = publish(session, rt, world)
    qr = manifests_sent(publisher, app)["sig-north-pool"].items[0].qr
    assert qr is not None
    path = urlsplit(qr.url).path
    assert client.get(path).status_code == 302
    campaigns.archive(session, rt, ADMIN, campaign.id)
    response = client.get(path)
    assert response.status_code == 404 and "Location" not in response.headers


def test_one_address_scanning_too_fast_is_asked_to_wait(config, clock, tmp_path):
    app = create_app(
        config.with_changes(link_scans_per_minute=3), publisher=RecordingPublisher(), clock=clock
    )
    try:
        client = app.test_client()
        answers = [client.get("/l/abcdefghijkm").status_code for _ in range(4)]
        assert answers == [404, 404, 404, 429]
        clock.advance(seconds=61)
        assert client.get("/l/abcdefghijkm").status_code == 404
    finally:
        parts(app).close()


# --- what staff see ------------------------------------------------------------------------


def test_staff_see_scans_per_campaign_site_and_screen(app, client, session, rt, world, publisher):
    campaign = publish(session, rt, world)
    sent = manifests_sent(publisher, app)
    for device, times in (("sig-north-pool", 3), ("sig-south-library", 1)):
        qr = sent[device].items[0].qr
        assert qr is not None
        for _ in range(times):
            assert client.get(urlsplit(qr.url).path).status_code == 302
    make_user(session, rt, "viewer", m.Role.VIEWER)
    login(client, "viewer")
    page = client.get(f"/analytics/?campaign={campaign.id}").text
    assert "<strong>4</strong> QR code scans" in page
    rows = page.split('id="scans"', 1)[1].split("</table>", 1)[0]
    assert (
        "<td>Swim school enrolments</td><td>North Pool</td><td>sig-north-pool</td>"
        '<td class="num">3</td>'
    ) in rows
    assert '<td>South Library</td><td>sig-south-library</td><td class="num">1</td>' in rows
