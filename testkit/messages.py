"""Valid example messages for tests, built from the real models."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, time, timedelta

from devices.protocol import (
    AssetRef,
    ContentItem,
    ItemKind,
    Manifest,
    ProfileKind,
    Schedule,
    ScreenProfile,
    SiteInfo,
    TextSlide,
    TimeWindow,
    Weekday,
)

# 08:00 on Tuesday 1 December 2026 in Perth (UTC+8, no daylight saving): the tests' epoch.
T0 = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)


# Width, height and minimum dwell of the screen profile the tests and benches use for each
# kind: a 1080p indoor screen, the small roadside LED sign, the portrait portal splash.
PROFILE_SHAPES = {
    ProfileKind.INDOOR: (1920, 1080, 0),
    ProfileKind.ROADSIDE: (192, 96, 10),
    ProfileKind.PORTAL: (1080, 1920, 0),
}


def screen_profile(
    kind: ProfileKind = ProfileKind.INDOOR, name: str = "Indoor 1080p", **changes: object
) -> ScreenProfile:
    """The usual profile of `kind` (PROFILE_SHAPES), with any field changed."""
    width, height, dwell = PROFILE_SHAPES[kind]
    fields = {"name": name, "kind": kind, "width_px": width, "height_px": height}
    return ScreenProfile.model_validate({**fields, "min_dwell_s": dwell, **changes})


def asset_for(
    data: bytes, url: str = "http://127.0.0.1:1/a", content_type: str = "image/png"
) -> AssetRef:
    """The reference a manifest carries for these bytes, served at `url`."""
    return AssetRef(
        sha256=hashlib.sha256(data).hexdigest(),
        url=url,
        size_bytes=len(data),
        content_type=content_type,
    )


def manifest(device_id: str = "sig-test-01", version: int = 1, **changes: object) -> Manifest:
    image = asset_for(b"example image bytes")
    fields: dict[str, object] = {
        "device_id": device_id,
        "version": version,
        "generated_at": T0,
        "valid_until": T0 + timedelta(days=7),
        "site": SiteInfo(id="riverton-lib", name="Riverton Library", timezone="Australia/Perth"),
        "profile": screen_profile(),
        "assets": (image,),
        "items": (
            ContentItem(
                id="swim-1",
                campaign_id="swim-school",
                campaign_name="Swim school enrolments",
                kind=ItemKind.IMAGE,
                asset=image.sha256,
                duration_s=10,
                schedules=(
                    Schedule(
                        days=(Weekday.MON, Weekday.TUE),
                        windows=(TimeWindow(start=time(7), end=time(12)),),
                    ),
                ),
            ),
        ),
        "default_items": (
            ContentItem(
                id="welcome",
                kind=ItemKind.TEXT,
                text=TextSlide(title="Welcome to Riverton Library"),
                duration_s=15,
            ),
        ),
    }
    fields.update(changes)
    return Manifest.model_validate(fields)
