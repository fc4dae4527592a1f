"""Issue 13 point 17: campaigns and items have a public title (translatable), apart from the
staff's name for them. The staff name never reaches a visitor: the splash heading is the
public title in the visitor's language, else the default public title, else none.

The journey runs the real CMS (SQLite and PostgreSQL), takes the signed manifest it
publishes for a portal node, serves it with the real portal app over HTTP, and reads the
splash in headless Chromium in English, Vietnamese, Arabic and Italian (no translation).
Set CMS_SCREENSHOTS to a directory to keep the screenshots.
"""

from __future__ import annotations

import os
import socket
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from central_cms import campaigns, fleet
from central_cms import models as m
from central_cms.compiler import Targets
from central_cms.errors import Invalid
from central_cms.manifests import devices_reached, sync_manifests
from central_cms.policy import Actor
from central_cms.publisher import RecordingPublisher
from central_cms.runtime import CmsRuntime
from devices.clock import ManualClock
from devices.protocol import ContentItem, ItemKind, Manifest, TextSlide, parse_signed, validate
from portal.app import create_app as create_portal
from portal.config import GatewayKind, PortalConfig
from portal.gateway import RecordingGateway
from portal.nonces import MemoryNonceStore
from portal.sources import MemoryRecorder, MemorySource
from portal.splash import Splash
from testkit.browsers import CHROMIUM, launch_chromium
from testkit.staff import csrf_of

ADMIN = Actor("titles-admin", m.Role.ADMIN)
# Separation of duties (issue 13, point 10): someone else approves what ADMIN sends.
APPROVER = Actor("titles-approver", m.Role.APPROVER)
STAFF_NAME = "Riverton school holidays \u2013 cross-promo"  # as in the issue
PUBLIC = "School holidays at Riverton"
VIETNAMESE = "Kỳ nghỉ học tại Riverton"
ARABIC = "العطلة المدرسية في ريفرتون"
PORTAL_DEVICE = "portal-north-pool"
PASSWORD = "correct horse battery staple"


def _holidays(world, **changes: Any) -> campaigns.CampaignInput:
    data = campaigns.CampaignInput(
        name=STAFF_NAME,
        public_title=PUBLIC,
        public_titles={"vi": VIETNAMESE, "ar": ARABIC},
        owner_site_id="north-pool",
        items=(
            campaigns.ItemInput(
                kind=ItemKind.IMAGE,
                media_id=world.media["poster"],
                duration_s=10,
                alt_text="Children playing sport, making art and doing science",
            ),
        ),
        targets=Targets(sites=frozenset({"north-pool"})),
    )
    return replace(data, **changes)


def _offer_languages(session: Session, rt: CmsRuntime) -> None:
    """The north pool's portal offers five languages (a site's portal settings)."""
    site = session.get(m.Site, "north-pool")
    assert site is not None
    site.portal_settings = {
        "ssid": "City Free WiFi",
        "terms": {"version": "2026-1", "text": {"en": "Be kind. Fair use applies."}},
        "languages": ["en", "zh", "vi", "ar", "it"],
    }
    session.commit()
    sync_manifests(session, rt, devices_reached(session, Targets(sites=frozenset({"north-pool"}))))
    session.commit()


def _publish(session: Session, rt: CmsRuntime, data: campaigns.CampaignInput) -> m.Campaign:
    campaign = campaigns.save(session, rt, ADMIN, data)
    if campaigns.submit(session, rt, ADMIN, campaign.id).status == m.CampaignStatus.PENDING:
        campaigns.approve(session, rt, APPROVER, campaign.id)
    return campaign


def _latest_manifest(publisher: RecordingPublisher, rt: CmsRuntime, device_id: str) -> Manifest:
    found = None
    for _topic, payload, _retain in publisher.sent:
        if payload:
            manifest = parse_signed(Manifest, payload, [rt.signing_key.public_key])
            if manifest.device_id == device_id:
                found = manifest
    assert found is not None, f"nothing published for {device_id}"
    return found


@dataclass
class _CmsBlobs:
    """The portal node's asset cache, standing in with the CMS's own blob files."""

    rt: CmsRuntime

    def path(self, sha256: str) -> Path | None:
        path = self.rt.blobs.path(sha256)
        return path if path.is_file() else None


@dataclass
class _Splash:
    url: str
    source: MemorySource


@pytest.fixture
def splash(rt: CmsRuntime) -> Iterator[_Splash]:
    """The real portal app on a real HTTP server, fed whatever manifest the test sets."""
    clock = ManualClock(datetime(2026, 12, 1, 2, 0, tzinfo=UTC))
    source = MemorySource(None)
    app = create_portal(
        Splash(
            PortalConfig(
                secret=b"0123456789abcdef0123456789abcdef-titles",
                faskey="titles-faskey",
                gateway=GatewayKind.RECORDING,
                rate_per_s=1000.0,
                rate_burst=1000,
            ),
            gateway=RecordingGateway(clock),
            manifest_source=source,
            recorder=MemoryRecorder(),
            clock=clock,
            assets=_CmsBlobs(rt),
            nonces=MemoryNonceStore(),
        )
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield _Splash(f"http://127.0.0.1:{port}", source)
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


def _keep(page, name: str) -> None:
    target = os.environ.get("CMS_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(target) / f"{name}.png"), full_page=True)


@pytest.mark.browser
def test_visitors_see_the_public_title_in_their_language_never_the_staff_name(
    session, rt, world, publisher, splash, browser
):
    _offer_languages(session, rt)
    _publish(session, rt, _holidays(world))
    manifest = _latest_manifest(publisher, rt, PORTAL_DEVICE)
    [item] = manifest.items
    assert (item.public_title, item.public_titles) == (PUBLIC, {"vi": VIETNAMESE, "ar": ARABIC})
    splash.source.set(manifest)

    expected = {"en": PUBLIC, "vi": VIETNAMESE, "ar": ARABIC, "it": PUBLIC}
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        page = context.new_page()
        for code, heading in expected.items():
            page.goto(f"{splash.url}/?lang={code}")
            promo = page.locator("section.promos article").first
            assert promo.locator("h3").inner_text() == heading, code
            assert STAFF_NAME not in page.content(), code
            _keep(page, f"public-title-{code}")
    finally:
        context.close()


def test_campaign_editor_keeps_the_public_title_and_translations_apart_from_the_name(
    session, rt, world, publisher, client
):
    fleet.create_user(
        session, rt, None, username="comms", password=PASSWORD, role=m.Role.ADMIN, sites=[]
    )
    login = client.get("/login")
    client.post(
        "/login",
        data={"username": "comms", "password": PASSWORD, "csrf_token": csrf_of(login.text)},
    )
    form = client.get("/campaigns/new")
    assert "visitors and passers-by" in form.text
    answer = client.post(
        "/campaigns/new",
        data={
            "csrf_token": csrf_of(form.text),
            "name": STAFF_NAME,
            "public_title": f"  {PUBLIC} ",
            "public_title-vi": VIETNAMESE,
            "public_title-ar": "",
            "owner_site_id": "north-pool",
            "priority": "50",
            "target_sites": "north-pool",
            "item_rows": "1",
            "items-0-kind": "image",
            "items-0-media_id": str(world.media["poster"]),
            "items-0-duration_s": "10",
            "items-0-public_title": "Sport, art and science",
            "items-0-public_title-it": "Sport, arte e scienza",
        },
    )
    assert answer.status_code == 302, answer.text
    [campaign] = session.query(m.Campaign).all()
    assert (campaign.name, campaign.public_title) == (STAFF_NAME, PUBLIC)
    assert campaign.public_title_translations == {"vi": VIETNAMESE}
    [item] = campaign.items
    assert (item.public_title, item.public_title_translations) == (
        "Sport, art and science",
        {"it": "Sport, arte e scienza"},
    )
    edit = client.get(f"/campaigns/{campaign.id}/edit").text
    assert f'value="{VIETNAMESE}"' in edit and 'value="Sport, arte e scienza"' in edit


def test_translations_without_a_default_public_title_are_refused(session, rt, world):
    with pytest.raises(Invalid) as refused:
        campaigns.save(session, rt, ADMIN, _holidays(world, public_title=""))
    assert refused.value.field == "public_title"
    assert "default language" in str(refused.value)


def test_an_item_title_overrides_the_campaigns_and_text_slides_keep_their_own(
    session, rt, world, publisher
):
    _publish(
        session,
        rt,
        _holidays(
            world,
            items=(
                campaigns.ItemInput(
                    kind=ItemKind.IMAGE,
                    media_id=world.media["poster"],
                    duration_s=10,
                    public_title="Sports camps",
                    public_titles={"vi": "Trại thể thao"},
                ),
                campaigns.ItemInput(
                    kind=ItemKind.IMAGE, media_id=world.media["poster"], duration_s=10
                ),
                campaigns.ItemInput(
                    kind=ItemKind.TEXT, duration_s=10, text=TextSlide(title="Art workshops")
                ),
            ),
        ),
    )
    items = _latest_manifest(publisher, rt, PORTAL_DEVICE).items
    assert [(i.public_title, i.public_titles) for i in items] == [
        ("Sports camps", {"vi": "Trại thể thao"}),
        (PUBLIC, {"vi": VIETNAMESE, "ar": ARABIC}),
        ("", {}),  # the splash shows the slide's own "Art workshops"
    ]
    assert all(i.campaign_name == STAFF_NAME for i in items)  # for the CMS's own pages


def test_a_manifest_from_before_public_titles_still_parses_and_shows_no_staff_name(splash):
    """An older CMS's manifest has no public title: the splash shows no heading for the
    picture (its description stays as the image's alt text), never the campaign name."""
    old = {
        "schema": "ds.manifest/1",
        "device_id": PORTAL_DEVICE,
        "version": 3,
        "generated_at": "2026-12-01T00:00:00Z",
        "valid_until": "2026-12-15T00:00:00Z",
        "site": {"id": "north-pool", "name": "North Pool", "timezone": "Australia/Perth"},
        "profile": {"name": "Splash", "kind": "portal", "width_px": 1080, "height_px": 1920},
        "assets": [
            {
                "sha256": "a" * 64,
                "url": "http://127.0.0.1:1/poster.png",
                "size_bytes": 10,
                "content_type": "image/png",
            }
        ],
        "items": [
            {
                "id": "holidays-1",
                "campaign_id": "holidays",
                "campaign_name": STAFF_NAME,
                "kind": "image",
                "asset": "a" * 64,
                "alt_text": "Children playing sport",
                "duration_s": 10,
            }
        ],
    }
    manifest = validate(Manifest, old)
    splash.source.set(manifest)
    with urllib.request.urlopen(f"{splash.url}/") as answer:
        html = answer.read().decode()
    assert "Children playing sport" in html
    assert STAFF_NAME not in html
    assert "<h3" not in html
    assert manifest.items[0].public_title == ""


def test_public_title_translations_are_keyed_by_language_code():
    item = {"id": "x", "kind": "text", "text": {"title": "t"}, "duration_s": 5}
    kept = ContentItem.model_validate({**item, "public_titles": {"vi": "Tiêu đề", "zh_CN": "标题"}})
    assert kept.public_titles == {"vi": "Tiêu đề", "zh_CN": "标题"}
    with pytest.raises(ValueError, match="public_titles"):
        ContentItem.model_validate({**item, "public_titles": {"Vietnamese!": "x"}})


def test_an_item_with_translations_can_key_a_players_frame_cache():
    """The signage player keeps rendered frames by item: a dict field must not make
    items unhashable (every player would show black)."""
    item = {"id": "x", "kind": "text", "text": {"title": "t"}, "duration_s": 5}
    one = ContentItem.model_validate({**item, "public_titles": {"vi": "Tiêu đề"}})
    same = ContentItem.model_validate({**item, "public_titles": {"vi": "Tiêu đề"}})
    frames = {one: "frame"}
    assert frames[same] == "frame"
    assert ContentItem.model_validate(item) not in frames
