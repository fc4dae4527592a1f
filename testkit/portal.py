"""The portal under test: a Cannington Leisureplex manifest, the app on a recording
gateway, a manual clock, and a helper that plays openNDS (makes a client known and
builds the FAS query it would send). Shared by the portal tests and bench/portal.py."""

from __future__ import annotations

import hashlib
import html
import itertools
import re
import secrets
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from devices.clock import ManualClock
from devices.protocol import (
    AssetRef,
    ContentItem,
    ItemKind,
    Manifest,
    OpeningHours,
    PortalSettings,
    ProfileKind,
    Schedule,
    ScreenProfile,
    SiteInfo,
    Terms,
    TextSlide,
    TimeWindow,
    Weekday,
)
from portal.app import create_app
from portal.config import GatewayKind, PortalConfig
from portal.fas import FasClient, encode_query, hid_for_token
from portal.gateway import Gateway, RecordingGateway
from portal.nonces import MemoryNonceStore, NonceStore
from portal.sources import MemoryNewsletter, MemoryRecorder, MemorySource
from portal.splash import Splash

# Tuesday 24 November 2026, 10:00 in Perth (UTC+8).
NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
FASKEY = "portal-test-faskey"


def _promo_png() -> bytes:
    """A 640x360 promo image, as the CMS would send for the portal."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (640, 360), "#f2a900")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 250, 640, 360), fill="#1d3557")
    draw.text((32, 40), "RIVERTON", fill="#1d3557", font_size=72)
    draw.text((32, 130), "School holidays", fill="#1d3557", font_size=48)
    draw.text((32, 280), "Sport - art - science, ages 5-12", fill="#ffffff", font_size=32)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


PNG = _promo_png()


def png_asset() -> AssetRef:
    return AssetRef(
        sha256=hashlib.sha256(PNG).hexdigest(),
        url="http://127.0.0.1:1/holiday.png",
        size_bytes=len(PNG),
        content_type="image/png",
    )


def portal_manifest(version: int = 1, **changes: object) -> Manifest:
    image = png_asset()
    fields: dict[str, object] = {
        "device_id": "portal-cannington-lp-01",
        "version": version,
        "generated_at": NOW - timedelta(hours=1),
        "valid_until": NOW + timedelta(days=7),
        "site": SiteInfo(
            id="cannington-lp",
            name="Cannington Leisureplex",
            timezone="Australia/Perth",
            brand_colour="#00594f",
            opening_hours=(
                *tuple(
                    OpeningHours(day=day, opens=time(5, 30), closes=time(21))
                    for day in (Weekday.MON, Weekday.TUE, Weekday.WED, Weekday.THU, Weekday.FRI)
                ),
                OpeningHours(day=Weekday.SAT, opens=time(7), closes=time(18)),
                OpeningHours(day=Weekday.SUN, opens=time(8), closes=time(18)),
            ),
        ),
        "profile": ScreenProfile(
            name="Portal", kind=ProfileKind.PORTAL, width_px=1080, height_px=1080
        ),
        "assets": (image,),
        "items": (
            ContentItem(
                id="pool-news",
                campaign_id="cannington-news",
                campaign_name="Cannington news",
                kind=ItemKind.TEXT,
                text=TextSlide(
                    title="Outdoor pool reopens Saturday",
                    body="The 50 m pool is heated to 27 °C again.",
                    when="From Saturday 28 November",
                    background="#ffffff",
                    foreground="#1a1a1a",
                ),
                duration_s=10,
                priority=60,
            ),
            ContentItem(
                id="riverton-holidays",
                campaign_id="riverton-school-holidays",
                campaign_name="Riverton school-holiday programme",
                kind=ItemKind.IMAGE,
                asset=image.sha256,
                alt_text="Riverton school-holiday programme: sport, art and science for ages 5-12",
                duration_s=10,
                link_url="https://www.example.org/riverton/holidays",
                schedules=(
                    Schedule(
                        days=(Weekday.MON, Weekday.TUE, Weekday.WED),
                        windows=(TimeWindow(start=time(6), end=time(20)),),
                    ),
                ),
            ),
        ),
        "portal": PortalSettings(
            ssid="City Free WiFi",
            terms=Terms(
                version="2026-11",
                text={
                    "en": "Use the City's free Wi-Fi lawfully.\nSessions last up to four hours.",
                    "it": "Usa il Wi-Fi gratuito del Comune nel rispetto della legge.",
                },
            ),
            session_minutes=240,
            newsletter=True,
            languages=("en", "zh", "vi", "ar", "it"),
        ),
    }
    fields.update(changes)
    return Manifest.model_validate(fields)


def portal_config(**changes: object) -> PortalConfig:
    values: dict[str, object] = {
        "secret": b"0123456789abcdef0123456789abcdef-test",
        "faskey": FASKEY,
        "gateway": GatewayKind.RECORDING,
        "fas_level": 2,
        "gateway_addresses": ("10.77.1.1:2050",),
        "rate_per_s": 1000.0,
        "rate_burst": 1000,
    }
    values.update(changes)
    return PortalConfig(**values)  # type: ignore[arg-type]


class DirAssets:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path | None:
        path = self.root / sha256
        return path if path.is_file() else None


_ips = itertools.count(2)


@dataclass
class Visitor:
    """One phone on the Wi-Fi: openNDS has intercepted it, so the gateway knows it."""

    mac: str
    ip: str
    token: str
    origin_url: str
    level: int

    def fas_client(self, **changes: str) -> FasClient:
        fields = {
            "hid": hid_for_token(self.token),
            "client_ip": self.ip,
            "client_mac": self.mac,
            "gateway_address": "10.77.1.1:2050",
            "gateway_name": "Cannington Leisureplex",
            "origin_url": self.origin_url,
        }
        fields.update(changes)
        return FasClient(**fields)

    def query(self, **changes: str) -> dict[str, str]:
        return encode_query(
            self.fas_client(**changes), level=self.level, faskey=FASKEY, iv=secrets.token_hex(8)
        )

    def splash_url(self, lang: str | None = None, **changes: str) -> str:
        query = self.query(**changes)
        if lang:
            query["lang"] = lang
        return "/?" + urllib.parse.urlencode(query)

    @property
    def environ(self) -> dict[str, str]:
        return {"REMOTE_ADDR": self.ip}


@dataclass
class Portal:
    app: Flask
    client: FlaskClient
    gateway: RecordingGateway
    recorder: MemoryRecorder
    source: MemorySource
    clock: ManualClock
    newsletter: MemoryNewsletter

    def visitor(self, origin_url: str = "http://neverssl.com/online", level: int = 2) -> Visitor:
        n = next(_ips)
        visitor = Visitor(
            mac=f"02:00:00:00:{n // 256:02x}:{n % 256:02x}",
            ip=f"10.77.1.{n % 250 + 2}" if n < 250 else f"10.77.{n // 250}.{n % 250 + 2}",
            token=secrets.token_hex(4),
            origin_url=origin_url,
            level=level,
        )
        self.gateway.admit(visitor.mac, visitor.ip, visitor.token)
        return visitor


def make_portal(
    tmp_path: Path,
    config: PortalConfig | None = None,
    manifest: Manifest | None = None,
    nonces: NonceStore | None = None,
    wrap_gateway: Callable[[RecordingGateway], Gateway] | None = None,
) -> Portal:
    """`wrap_gateway`: what the splash talks to in front of the recording gateway."""
    clock = ManualClock(NOW)
    gateway = RecordingGateway(clock)
    recorder = MemoryRecorder()
    source = MemorySource(manifest if manifest is not None else portal_manifest())
    newsletter = MemoryNewsletter()
    assets_dir = tmp_path / "assets"
    assets_dir.mkdir(parents=True, exist_ok=True)
    (assets_dir / png_asset().sha256).write_bytes(PNG)
    app = create_app(
        Splash(
            config or portal_config(),
            gateway=wrap_gateway(gateway) if wrap_gateway else gateway,
            manifest_source=source,
            recorder=recorder,
            clock=clock,
            assets=DirAssets(assets_dir),
            nonces=nonces if nonces is not None else MemoryNonceStore(),
            newsletter=newsletter,
        )
    )
    return Portal(app, app.test_client(), gateway, recorder, source, clock, newsletter)


# --- reading the splash page -------------------------------------------------------


def find(pattern: str | re.Pattern[str], text: str) -> re.Match[str]:
    match = re.search(pattern, text)
    assert match is not None, f"{pattern} not in page"
    return match


STATE = re.compile(r'name="state" value="([^"]+)"')


def form_of(html: str) -> dict[str, str]:
    return {
        "state": find(STATE, html).group(1),
        "lang": find(r'name="lang" value="([^"]+)"', html).group(1),
        "terms_version": find(r'name="terms_version" value="([^"]+)"', html).group(1),
    }


CONTINUE = re.compile(r'<a class="button" href="([^"]+)">')


def online_landing(client: FlaskClient, location: str) -> tuple[str, str | None]:
    """Where an accept's redirect leads: the portal's own "you are online" page (its path
    and query) and the page it links on to, the one the visitor was opening, if any."""
    parts = urllib.parse.urlsplit(location)
    page = client.get(f"{parts.path}?{parts.query}")
    assert page.status_code == 200, page.status_code
    found = CONTINUE.search(page.text)
    return parts.path, html.unescape(found.group(1)) if found else None
