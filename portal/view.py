"""What the splash page shows at an instant, from the manifest and alerts. Pure.

Promotions are the manifest's items whose schedules are open now (the same evaluator as
the signage player), highest priority first; when none is open, the site's open default
items. Colours from the CMS are kept only when their contrast passes WCAG 2.1 AA.

Under an alert (issue 13), by severity:

- info: a banner above the normal page; promotions and opening hours stay.
- warning and emergency: the alert replaces the promotions and the opening hours (a
  closed pool's usual hours, or a swim carnival next to a fire warning, would mislead).

Whatever the severity, the visitor can still read and accept the terms and go online:
the Wi-Fi is how many of them will find out more.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from devices.protocol import (
    PORTAL_LANGUAGES,
    Alert,
    ContentItem,
    DeviceKind,
    ItemKind,
    Manifest,
    Severity,
)
from devices.protocol.feeds import FeedData, FeedEntry
from devices.schedule import active_alert, next_manifest_change, open_items

MAX_PROMOS = 3
MAX_HAPPENINGS = 5  # the next classes and events from the site's feeds
MAX_HEADLINES = 3
FEED_RECHECK_MINUTES = 5
FALLBACK_TERMS_VERSION = "builtin-1"
_WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Promo:
    item_id: str
    campaign_id: str | None
    title: str  # the public title in the default language; never the staff's name
    body: str
    when: str
    venue: str
    image_sha256: str | None
    alt_text: str
    has_link: bool
    background: str
    foreground: str
    titles: tuple[tuple[str, str], ...] = ()  # (language code, title) translations

    def in_language(self, code: str) -> Promo:
        """This promo with its title in language `code`, if it has one."""
        for language, title in self.titles:
            if language == code or language.split("_")[0] == code:
                return replace(self, title=title)
        return self


@dataclass(frozen=True)
class Happening:
    """A class, event or headline from the site's live feeds (devices/feeds.py)."""

    title: str
    when: str  # e.g. "Tue 1 Dec, 09:00-10:00", in the site's time zone; "" for headlines
    location: str
    summary: str


@dataclass(frozen=True)
class Hours:
    day: str  # mon..sun
    opens: str
    closes: str


@dataclass(frozen=True)
class AlertBanner:
    title: str
    body: str
    severity: Severity

    @property
    def replaces_content(self) -> bool:
        """Whether the page drops its promotions and opening hours for this alert."""
        return self.severity is not Severity.INFO


@dataclass(frozen=True)
class SplashView:
    key: str  # changes whenever anything on the page changes
    site_id: str
    site_name: str
    brand_colour: str
    brand_text: str
    logo_sha256: str | None
    hours: tuple[Hours, ...]
    promos: tuple[Promo, ...]
    terms_version: str
    terms_text: dict[str, str]  # by language; "" means use the built-in wording
    newsletter: bool
    languages: tuple[str, ...]
    alert: AlertBanner | None
    session_minutes: int
    valid_until: datetime | None  # re-evaluate at or after this instant
    happenings: tuple[Happening, ...] = ()
    # The Wi-Fi policy's splash frequency (portal.returning); None: the terms at every visit.
    splash_every_days: int | None = None


def _clean(text: str) -> str:
    return text.replace("\x00", "")


def _luminance(colour: str) -> float:
    def channel(hex2: str) -> float:
        c = int(hex2, 16) / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(colour[i : i + 2]) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def readable_text(background: str, preferred: str | None = None) -> str:
    """`preferred` if it reaches 4.5:1 on `background`, else black or white, whichever wins."""
    if preferred and contrast(background, preferred) >= 4.5:
        return preferred
    return (
        "#000000"
        if contrast(background, "#000000") >= contrast(background, "#ffffff")
        else "#ffffff"
    )


def _promo(item: ContentItem) -> Promo:
    text = item.text
    background = text.background if text else "#ffffff"
    # Issue 13 point 17: the heading is the public title (a text slide's own title when it
    # has none), never `campaign_name`, which is what staff call the campaign.
    return Promo(
        item_id=item.id,
        campaign_id=item.campaign_id,
        title=_clean(item.public_title or (text.title if text else "")),
        titles=tuple(
            (code, _clean(title)) for code, title in sorted(item.public_titles.items()) if title
        ),
        body=_clean(text.body if text else ""),
        when=_clean(text.when if text else ""),
        venue=_clean(text.venue if text else ""),
        image_sha256=item.asset if item.kind is ItemKind.IMAGE else None,
        alt_text=_clean(item.alt_text),
        has_link=item.link_url is not None,
        background=background,
        foreground=readable_text(background, text.foreground if text else "#000000"),
    )


def in_language(view: SplashView, code: str) -> SplashView:
    """`view` with every promo's title in language `code`, where a translation exists;
    the others keep their default public title."""
    promos = tuple(promo.in_language(code) for promo in view.promos)
    return view if promos == view.promos else replace(view, promos=promos)


def _when(entry: FeedEntry, tz: ZoneInfo) -> str:
    if entry.starts_at is None:
        return ""
    starts = entry.starts_at.astimezone(tz)
    text = f"{starts:%a} {starts.day} {starts:%b}, {starts:%H:%M}"
    if entry.ends_at is not None:
        text += f"\u2013{entry.ends_at.astimezone(tz):%H:%M}"
    return text


def happenings(
    manifest: Manifest, feeds: tuple[FeedData, ...], at: datetime, tz: ZoneInfo
) -> tuple[Happening, ...]:
    """What's on from the manifest's feeds: events not yet over, soonest first, then a
    few headlines. A copy older than its feed's `max_age_s` is left out, as on screens."""
    refs = {ref.id: ref for ref in manifest.feeds}
    fresh = [
        feed
        for feed in feeds
        if feed.id in refs and at - feed.fetched_at <= timedelta(seconds=refs[feed.id].max_age_s)
    ]
    entries = [entry for feed in fresh for entry in feed.entries]
    events = sorted(
        (e for e in entries if e.starts_at is not None and (e.ends_at or e.starts_at) > at),
        key=lambda e: e.starts_at or at,
    )
    headlines = [e for e in entries if e.starts_at is None][:MAX_HEADLINES]
    return tuple(
        Happening(_clean(e.title), _when(e, tz), _clean(e.location), _clean(e.summary))
        for e in [*events[:MAX_HAPPENINGS], *headlines]
    )


def splash_view(
    manifest: Manifest | None,
    alerts: tuple[Alert, ...],
    at: datetime,
    *,
    fallback_name: str,
    feeds: tuple[FeedData, ...] = (),
) -> SplashView:
    if manifest is None:
        # Never lock visitors out: a node that has not had a manifest yet still works.
        return SplashView(
            key="fallback",
            site_id="",
            site_name=fallback_name,
            brand_colour="#003a70",
            brand_text="#ffffff",
            logo_sha256=None,
            hours=(),
            promos=(),
            terms_version=FALLBACK_TERMS_VERSION,
            terms_text={},
            newsletter=False,
            languages=PORTAL_LANGUAGES,
            alert=None,
            session_minutes=240,
            valid_until=None,
        )
    tz = ZoneInfo(manifest.site.timezone)
    items = sorted(open_items(manifest.items, at, tz), key=lambda item: -item.priority)
    if not items:
        items = open_items(manifest.default_items, at, tz)
    images = {asset.sha256 for asset in manifest.assets if asset.content_type.startswith("image/")}
    promos = tuple(
        _promo(item)
        for item in items
        if item.kind is ItemKind.TEXT or (item.kind is ItemKind.IMAGE and item.asset in images)
    )[:MAX_PROMOS]
    alert = active_alert(alerts, at, DeviceKind.PORTAL)
    portal = manifest.portal
    site = manifest.site
    hours = tuple(
        Hours(h.day.value, h.opens.strftime("%H:%M"), h.closes.strftime("%H:%M"))
        for h in sorted(site.opening_hours, key=lambda h: _WEEK.index(h.day.value))
    )
    change = next_manifest_change(manifest, alerts, at)
    banner = AlertBanner(_clean(alert.title), _clean(alert.body), alert.severity) if alert else None
    on = happenings(manifest, feeds, at, tz)
    if banner is not None and banner.replaces_content:
        promos, hours, on = (), (), ()  # nor are promotions counted as shown
    key = "|".join(
        [
            str(manifest.version),
            ",".join(p.item_id for p in promos),
            alert.id if alert else "",
            str(alert.issued_at) if alert else "",
            str(alert.revision) if alert else "",  # an edit changes the words
            ",".join(f"{feed.id}:{feed.version}" for feed in feeds),
        ]
    )
    valid_until = change if change is not None else at + timedelta(hours=1)
    if manifest.feeds:  # events end and copies age: look again within minutes
        valid_until = min(valid_until, at + timedelta(minutes=FEED_RECHECK_MINUTES))
    return SplashView(
        key=key,
        site_id=site.id,
        site_name=_clean(site.name),
        brand_colour=site.brand_colour,
        brand_text=readable_text(site.brand_colour, "#ffffff"),
        logo_sha256=site.logo,
        hours=hours,
        promos=promos,
        terms_version=portal.terms.version if portal else FALLBACK_TERMS_VERSION,
        terms_text={k: _clean(v) for k, v in portal.terms.text.items()} if portal else {},
        newsletter=portal.newsletter if portal else False,
        languages=portal.languages if portal else PORTAL_LANGUAGES,
        alert=banner,
        session_minutes=portal.session_minutes if portal else 240,
        valid_until=valid_until,
        happenings=on,
        splash_every_days=portal.wifi.splash_every_days if portal and portal.wifi else None,
    )
