"""Demo data for the first city (DESIGN.md domain facts). Nothing else in the CMS
assumes any of it: it goes in through the same service functions staff use."""

from __future__ import annotations

import io
from datetime import timedelta
from zoneinfo import ZoneInfo

from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import select
from sqlalchemy.orm import Session

from central_cms import campaigns, fleet, library
from central_cms import models as m
from central_cms.policy import Actor
from central_cms.runtime import CmsRuntime
from central_cms.seed_layouts import NEWS_FEED, NEWS_PATH, classes_feed, indoor_zones
from central_cms.specs import Targets
from devices.protocol import (
    DeviceKind,
    Fit,
    ItemKind,
    Schedule,
    TextSlide,
    TimeWindow,
    Weekday,
)

TZ = "Australia/Perth"
SITES = [
    (
        "riverton-leisureplex",
        "Riverton Leisureplex",
        "Corner High Road and Willeri Drive, Riverton",
    ),
    ("riverton-library", "Riverton Library", "Riverton Leisureplex, Riverton"),
    ("cannington-leisureplex", "Cannington Leisureplex", "Cecil Avenue, Cannington"),
    ("cannington-library", "Cannington Library", "Wharf Street, Cannington"),
    ("bentley-library", "Bentley Library", "Manning Road, Bentley"),
    ("willetton-library", "Willetton Library", "Burrendah Boulevard, Willetton"),
    ("creec", "CREEC (Canning River Eco Education Centre)", "Kent Street, Wilson"),
    ("youth-centre", "Youth Centre", "Cannington"),
    ("admin-building", "Admin building", "Albany Highway, Cannington"),
    ("admin-event-area", "Admin building outdoor event area", "Albany Highway, Cannington"),
    ("whaleback-golf", "Whaleback Golf Course", "Pinetree Gully Road, Willetton"),
    ("roadside", "Roadside LED screens", "Major roads"),
]
SITE_TAGS = {
    "riverton-leisureplex": ["leisureplex"],
    "cannington-leisureplex": ["leisureplex"],
    "riverton-library": ["library"],
    "cannington-library": ["library"],
    "bentley-library": ["library"],
    "willetton-library": ["library"],
}
# What visitors see (issue 13 point 17), by the staff's campaign name: the title and its
# translations into the splash page's languages.
PUBLIC_TITLES: dict[str, tuple[str, dict[str, str]]] = {
    "Swim school enrolments open": (
        "Swim school enrolments are open",
        {
            "zh": "游泳学校现已开放报名",
            "vi": "Lớp học bơi đang nhận đăng ký",
            "ar": "التسجيل مفتوح في مدرسة السباحة",
            "it": "Iscrizioni aperte alla scuola di nuoto",
        },
    ),
    "Riverton school-holiday programme": (
        "School holidays at Riverton",
        {
            "zh": "里弗顿学校假期活动",
            "vi": "Kỳ nghỉ học tại Riverton",
            "ar": "العطلة المدرسية في ريفرتون",
            "it": "Vacanze scolastiche a Riverton",
        },
    ),
    "Library storytime": (
        "Storytime for children",
        {
            "zh": "儿童故事时间",
            "vi": "Giờ kể chuyện cho trẻ em",
            "ar": "وقت القصص للأطفال",
            "it": "L'ora delle storie per bambini",
        },
    ),
    "Drive safely: school zones": ("Drive safely in school zones", {}),
}
# (id, name, kind, width, height, min dwell, video, transitions, no contact text, night blank)
PROFILES = [
    ("indoor-1080p", "Indoor screen 1080p", "indoor", 1920, 1080, 0, True, True, False, None),
    (
        "roadside-192x96",
        "Roadside LED 192x96",
        "roadside",
        192,
        96,
        10,
        False,
        False,
        True,
        ("23:00", "05:00"),
    ),
    (
        "roadside-384x192",
        "Roadside LED 384x192 (state road)",
        "roadside",
        384,
        192,
        40,
        False,
        False,
        True,
        ("23:00", "05:00"),
    ),
    # Promotions sit in a 16:9 card on a phone's splash page.
    ("portal", "Wi-Fi splash page", "portal", 1280, 720, 0, True, True, False, None),
]
ROADSIDE_BRIGHTNESS = [
    {"at": "06:00", "percent": 70},
    {"at": "09:00", "percent": 100},
    {"at": "18:00", "percent": 60},
    {"at": "21:00", "percent": 35},
]
USERS = [
    ("admin", m.Role.ADMIN, []),
    ("editor", m.Role.EDITOR, []),
    ("riverton-editor", m.Role.EDITOR, ["riverton-leisureplex", "riverton-library"]),
    ("approver", m.Role.APPROVER, []),
    ("it", m.Role.IT, []),
    ("viewer", m.Role.VIEWER, []),
]


def poster(
    title: str, subtitle: str, colour: tuple[int, int, int], size: tuple[int, int] = (1920, 1080)
) -> bytes:
    """An example picture, made here so the demo ships no binary files."""
    width, height = size
    image = Image.new("RGB", size, colour)
    draw = ImageDraw.Draw(image)
    for y in range(0, height, 8):  # a gentle vertical gradient
        shade = tuple(max(0, c - y * 60 // height) for c in colour)
        draw.rectangle([0, y, width, y + 8], fill=shade)
    tint = tuple(min(255, c + 35) for c in colour)
    draw.ellipse([width * 0.78, -height * 0.25, width * 1.15, height * 0.3], fill=tint)
    draw.text(
        (width // 16, height // 3),
        title,
        fill="white",
        font=ImageFont.load_default(size=height // 9),
    )
    draw.text(
        (width // 16, height // 3 + height // 7),
        subtitle,
        fill="white",
        font=ImageFont.load_default(size=height // 18),
    )
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


DEMO_PASSWORD = "demo-password"  # noqa: S105 - the demo's documented staff password


def seed_demo(session: Session, rt: CmsRuntime, *, password: str = DEMO_PASSWORD) -> None:
    """Load the demo city. Idempotent enough for a fresh database; refuses a used one."""
    if session.scalars(select(m.Site)).first() is not None:
        raise RuntimeError("the database already has sites; seed only a fresh one")
    admin = Actor("seed", m.Role.ADMIN)
    for site_id, name, address in SITES:
        fleet.save_site(
            session,
            rt,
            admin,
            site_id=site_id,
            name=name,
            address=address,
            timezone=TZ,
            requires_approval=site_id != "youth-centre",
        )
        site = session.get(m.Site, site_id)
        assert site is not None
        site.opening_hours = [
            {"day": d.value, "opens": "06:00", "closes": "21:00"} for d in Weekday
        ]
        if site_id != "roadside":
            site.portal_settings = {
                "ssid": "City Free WiFi",
                "terms": {"version": "2026-1", "text": {"en": "Be kind. Fair use applies."}},
                # The opt-in reaches the CMS through each node's portal.newsletter_url.
                "newsletter": True,
            }
    for pid, name, kind, w, h, dwell, video, transitions, no_contact, night in PROFILES:
        fleet.save_profile(
            session,
            rt,
            admin,
            m.ScreenProfile(
                id=pid,
                name=name,
                kind=kind,
                width_px=w,
                height_px=h,
                min_dwell_s=dwell,
                allow_video=video,
                transitions=transitions,
                forbid_contact_text=no_contact,
                night_blank_start=night[0] if night else None,
                night_blank_end=night[1] if night else None,
                brightness=ROADSIDE_BRIGHTNESS if kind == "roadside" else [],
                max_content_age_s=None,
            ),
        )
    session.commit()

    for site_id, _, _ in SITES:
        tags = SITE_TAGS.get(site_id, [])
        if site_id == "roadside":
            for n, (road, profile) in enumerate(
                [
                    ("albany-hwy", "roadside-384x192"),
                    ("leach-hwy", "roadside-384x192"),
                    ("nicholson-rd", "roadside-192x96"),
                ],
                start=1,
            ):
                fleet.register_device(
                    session,
                    rt,
                    admin,
                    device_id=f"led-{road}-{n:02d}",
                    name=f"LED screen, {road.replace('-', ' ').title()}",
                    kind=DeviceKind.SIGNAGE,
                    site_id=site_id,
                    profile_id=profile,
                    tags=["roadside"],
                )
            continue
        short = site_id.replace("-leisureplex", "-lp").replace("-library", "-lib")
        fleet.register_device(
            session,
            rt,
            admin,
            device_id=f"sig-{short}-foyer-01",
            name="Foyer screen",
            kind=DeviceKind.SIGNAGE,
            site_id=site_id,
            profile_id="indoor-1080p",
            tags=[*tags, "foyer"],
        )
        fleet.register_device(
            session,
            rt,
            admin,
            device_id=f"portal-{short}-01",
            name="Wi-Fi portal",
            kind=DeviceKind.PORTAL,
            site_id=site_id,
            profile_id="portal",
            tags=tags,
        )

    for username, role, sites in USERS:
        fleet.create_user(
            session,
            rt,
            None,
            username=username,
            password=password,
            role=role,
            display_name=username.replace("-", " ").title(),
            sites=sites,
        )

    # (file, poster heading, poster line, colour, library title)
    posters = [
        (
            "swim-school.png",
            "Swim school enrolments open",
            "Book at reception",
            (0, 94, 165),
            "Swim school poster",
        ),
        (
            "school-holidays.png",
            "Riverton school holidays",
            "Games, crafts, movies",
            (164, 22, 26),
            "Riverton school-holiday programme",
        ),
        ("storytime.png", "Storytime", "Tuesdays 10:30", (30, 107, 52), "Library storytime"),
    ]
    swim, holidays, storytime = (
        library.upload(
            session, rt, admin, filename=name, data=poster(heading, line, colour), title=title
        )
        for name, heading, line, colour, title in posters
    )

    today = rt.clock.now().astimezone(ZoneInfo(TZ)).date()
    fortnight = Schedule(starts_on=today, ends_on=today + timedelta(days=13))
    mornings = Schedule(
        starts_on=today,
        ends_on=today + timedelta(days=13),
        windows=(TimeWindow.model_validate({"start": "06:00", "end": "12:00"}),),
    )
    plan = [
        (
            "Swim school enrolments open",
            "riverton-leisureplex",
            70,
            Targets(tags=frozenset({"leisureplex"})),
            (mornings,),
            (
                campaigns.ItemInput(
                    kind=ItemKind.IMAGE,
                    media_id=swim.id,
                    duration_s=12,
                    alt_text="Swim school enrolments open",
                ),
            ),
        ),
        (
            "Riverton school-holiday programme",
            "riverton-library",
            50,
            Targets(
                sites=frozenset(s for s, _, _ in SITES if not s.startswith(("riverton", "road"))),
                kinds=frozenset({DeviceKind.SIGNAGE}),
            ),
            (fortnight,),
            (
                campaigns.ItemInput(
                    kind=ItemKind.IMAGE,
                    media_id=holidays.id,
                    duration_s=10,
                    fit=Fit.FILL,
                    alt_text="Riverton school-holiday programme",
                    # A QR code on the indoor screens, through a short tracked link.
                    link_url="https://www.example.org/riverton/school-holidays",
                ),
            ),
        ),
        (
            "Library storytime",
            "bentley-library",
            50,
            Targets(tags=frozenset({"library"})),
            (
                Schedule(
                    days=(Weekday.MON, Weekday.TUE),
                    windows=(TimeWindow.model_validate({"start": "08:00", "end": "11:00"}),),
                ),
            ),
            (
                campaigns.ItemInput(kind=ItemKind.IMAGE, media_id=storytime.id, duration_s=10),
                campaigns.ItemInput(
                    kind=ItemKind.TEXT,
                    duration_s=8,
                    text=TextSlide(
                        title="Storytime",
                        body="Stories and songs",
                        when="Tuesdays 10:30",
                        venue="Children's area",
                    ),
                ),
            ),
        ),
        (
            "Drive safely: school zones",
            "roadside",
            50,
            Targets(sites=frozenset({"roadside"})),
            (),
            (
                campaigns.ItemInput(
                    kind=ItemKind.TEXT,
                    duration_s=40,
                    text=TextSlide(
                        title="School zone 40",
                        body="7:30-9 and 2:30-4",
                        background="#000000",
                        foreground="#ffcc00",
                    ),
                ),
            ),
        ),
    ]
    inputs = [
        campaigns.CampaignInput(
            name=name,
            owner_site_id=owner,
            items=items,
            targets=targets,
            schedules=schedules,
            priority=priority,
            public_title=PUBLIC_TITLES[name][0],
            public_titles=PUBLIC_TITLES[name][1],
        )
        for name, owner, priority, targets, schedules, items in plan
    ]
    # Each building's screens fall back to a welcome slide when nothing else is on; at the
    # leisureplexes and libraries it also sets the screens' layout and fills the zones.
    zones = indoor_zones(session, rt, admin, [(s, n) for s, n, _ in SITES], today)
    inputs += [
        campaigns.CampaignInput(
            name=f"Welcome: {name}",
            owner_site_id=site_id,
            items=(
                campaigns.ItemInput(
                    kind=ItemKind.TEXT,
                    duration_s=15,
                    text=TextSlide(title=f"Welcome to {name}", body="Open daily 6am to 9pm"),
                ),
            ),
            targets=Targets(sites=frozenset({site_id}), kinds=frozenset({DeviceKind.SIGNAGE})),
            schedules=(),
            priority=50,
            is_default=True,
            public_title=f"Welcome to {name}",
            layouts=zones.get(site_id, ({}, {}))[0],
            zone_playlists=zones.get(site_id, ({}, {}))[1],
        )
        for site_id, name, _ in SITES
        if site_id != "roadside"
    ]
    # Separation of duties: the seeded approver approves what the admin sent.
    approver = Actor("approver", m.Role.APPROVER)
    for data in inputs:
        campaign = campaigns.save(session, rt, admin, data)
        if campaigns.submit(session, rt, admin, campaign.id).status == m.CampaignStatus.PENDING:
            campaigns.approve(session, rt, approver, campaign.id)
    session.commit()


# --- live feeds (issue 14) ----------------------------------------------------------------

FEED_SITES = {site: tags[0] for site, tags in SITE_TAGS.items()}  # the indoor sites


def seed_feeds(session: Session, rt: CmsRuntime, bookings_url: str) -> list[str]:
    """Point each indoor site's booking-system timetable, and the city's news, at the
    demo's stand-in sources at `bookings_url` (digital_spaces/demo/bookings.py): registered
    on the first run, re-pointed on a later one (the server's port is new each run)."""
    from central_cms.feeds.models import Feed, FeedKind
    from central_cms.feeds.service import FeedInput, save_feed

    admin = Actor("seed", m.Role.ADMIN)
    wanted: list[tuple[str, str, str, FeedKind, str | None]] = []
    for site_id in FEED_SITES:
        site = session.get(m.Site, site_id)
        if site is not None:
            url = f"{bookings_url}/{site_id}.ics"
            wanted.append(
                (classes_feed(site_id), f"{site.name} classes", url, FeedKind.ICAL, site_id)
            )
    wanted.append((NEWS_FEED, "City news", bookings_url + NEWS_PATH, FeedKind.RSS, None))
    ids = []
    for feed_id, name, url, kind, owner in wanted:
        existing = session.get(Feed, feed_id)
        if existing is not None and existing.url == url:
            continue
        data = FeedInput(
            id=feed_id,
            name=existing.name if existing else name,
            url=url,
            kind=kind.value,
            site_id=owner,
            refresh_minutes=15,
            max_age_hours=24,
        )
        save_feed(session, rt, admin, data, existing=feed_id if existing else None)
        ids.append(feed_id)
    session.commit()
    return ids
