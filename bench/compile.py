"""Manifest compiler benchmark: 5,000 devices x 2,000 campaigns, no database.

Prints name=value lines. Targets (issue 4): compile_all_s < 2, recompile_one_site_s < 0.1.
The catalogue has issue 14's layouts, playlists and feeds: every site's default content
sets a main + side + ticker + clock layout with a playlist of six in the side zone and a
feed ticker, and some campaigns go to every site but their owner, skipping roadside signs.
Usage: .venv/bin/python -m bench.compile [--devices N] [--campaigns N] [--random-tags]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import time
from dataclasses import replace
from datetime import date, timedelta
from datetime import time as clock

from central_cms.compiler import (
    CampaignIndex,
    CampaignSpec,
    Catalogue,
    DeviceSpec,
    ItemSpec,
    ManifestCompiler,
    MediaSpec,
    Targets,
    affected_devices,
)
from devices.protocol import (
    AssetRef,
    DeviceKind,
    Fit,
    ItemKind,
    ProfileKind,
    Schedule,
    ScreenProfile,
    SiteInfo,
    TextSlide,
    TimeWindow,
    Weekday,
)
from devices.protocol.layouts import FeedRef, LayoutTemplate, Widget, WidgetKind
from testkit.messages import T0, screen_profile

NOW = T0  # 08:00 on a Tuesday in Perth
PROFILES = {
    "indoor-1080p": screen_profile(ProfileKind.INDOOR, "Indoor"),
    "roadside-192x96": screen_profile(ProfileKind.ROADSIDE, "Roadside"),
    "roadside-384x192": ScreenProfile(
        name="Roadside L", kind=ProfileKind.ROADSIDE, width_px=384, height_px=192, min_dwell_s=40
    ),
    "portal": screen_profile(ProfileKind.PORTAL, "Portal"),
}
SITE_TYPES = ["leisureplex", "library", "community", "outdoor"]
PLACES = ["foyer", "pool", "cafe", "gym", "reading-room", "carpark"]
TAGS = SITE_TYPES + PLACES


def asset(seed: str) -> AssetRef:
    sha = hashlib.sha256(seed.encode()).hexdigest()
    return AssetRef(
        sha256=sha, url=f"http://cms.example/a/{sha}", size_bytes=1000, content_type="image/png"
    )


def build(n_devices: int, n_campaigns: int, rng: random.Random, random_tags: bool):
    sites = {
        f"site-{n}": SiteInfo(id=f"site-{n}", name=f"Site {n}", timezone="Australia/Perth")
        for n in range(60)
    }
    site_ids = list(sites)
    devices = []
    for n in range(n_devices):
        kind = DeviceKind.PORTAL if n % 5 == 0 else DeviceKind.SIGNAGE
        profile = (
            "portal"
            if kind is DeviceKind.PORTAL
            else rng.choice(["indoor-1080p", "indoor-1080p", "roadside-192x96", "roadside-384x192"])
        )
        site = rng.choice(site_ids)
        # Real fleets tag by kind of site and place in it; --random-tags is the worst case.
        tags = (
            frozenset(rng.sample(TAGS, 2))
            if random_tags
            else frozenset([SITE_TYPES[site_ids.index(site) % 4], rng.choice(PLACES)])
        )
        devices.append(DeviceSpec(f"dev-{n}", kind, site, profile, tags))
    campaigns = [default_content(site, n) for n, site in enumerate(site_ids)]
    for n in range(n_campaigns):
        roll = rng.random()
        if roll < 0.03:  # a cross-promotion to every other site, skipping roadside signs
            targets = Targets(
                except_sites=frozenset([rng.choice(site_ids)]),
                skip_profiles=frozenset({"roadside-192x96", "roadside-384x192"}),
            )
        elif roll < 0.7:
            targets = Targets(sites=frozenset(rng.sample(site_ids, rng.randint(1, 3))))
        elif roll < 0.9:
            targets = Targets(tags=frozenset([rng.choice(TAGS)]))
        elif roll < 0.97:
            targets = Targets(
                kinds=frozenset([rng.choice(list(DeviceKind))]),
                sites=frozenset(rng.sample(site_ids, 10)),
            )
        else:
            targets = Targets(profiles=frozenset([rng.choice(list(PROFILES))]))
        start = date(2026, 11, 1) + timedelta(days=rng.randint(0, 60))
        schedule = Schedule(
            starts_on=start,
            ends_on=start + timedelta(days=rng.randint(1, 30)),
            days=(Weekday.MON, Weekday.WED, Weekday.FRI),
            windows=(TimeWindow(start=clock(7), end=clock(12)),),
        )
        items = []
        for i in range(rng.randint(1, 3)):
            original = asset(f"{n}-{i}")
            renditions = {(p, Fit.FIT, False): asset(f"{n}-{i}-{p}") for p in PROFILES}
            if i == 2:
                items.append(
                    ItemSpec(
                        id=f"c{n}-i{i}",
                        kind=ItemKind.TEXT,
                        duration_s=10,
                        text=TextSlide(title=f"Campaign {n}"),
                    )
                )
            else:
                items.append(
                    ItemSpec(
                        id=f"c{n}-i{i}",
                        kind=ItemKind.IMAGE,
                        duration_s=10,
                        media=MediaSpec(original, renditions),
                    )
                )
        campaigns.append(
            CampaignSpec(
                id=f"c{n}",
                name=f"Campaign {n}",
                targets=targets,
                items=tuple(items),
                schedules=(schedule,),
                priority=rng.choice([30, 50, 50, 70]),
            )
        )
    # Each site's booking calendar: its splash lists it under "What's on".
    classes = {f"{site}-classes": FeedRef(id=f"{site}-classes", name="Classes") for site in sites}
    site_feeds = {site: frozenset({f"{site}-classes"}) for site in sites}
    catalogue = Catalogue(
        sites=sites, profiles=PROFILES, feeds={**FEEDS, **classes}, site_feeds=site_feeds
    )
    return catalogue, devices, campaigns


FEEDS = {f"feed-{n}": FeedRef(id=f"feed-{n}", name=f"Feed {n}") for n in range(5)}


def default_content(site: str, n: int) -> CampaignSpec:
    """A site's default content: its layout, a welcome in main, a playlist of six at the
    side (two with validity dates), a feed ticker and a clock."""
    side = [
        ItemSpec(
            id=f"{site}-side-{i}",
            kind=ItemKind.TEXT,
            duration_s=8,
            text=TextSlide(title=f"What's on {i}"),
            zone="side",
            valid_from=date(2026, 12, 1) if i < 2 else None,
            valid_until=date(2026, 12, 20) if i < 2 else None,
        )
        for i in range(6)
    ]
    widgets = [
        ItemSpec(
            id=f"{site}-ticker",
            kind=ItemKind.WIDGET,
            duration_s=60,
            zone="ticker",
            widget=Widget(kind=WidgetKind.TICKER, feed=f"feed-{n % len(FEEDS)}"),
        ),
        ItemSpec(
            id=f"{site}-clock",
            kind=ItemKind.WIDGET,
            duration_s=3600,
            zone="clock",
            widget=Widget(kind=WidgetKind.CLOCK),
        ),
    ]
    welcome = ItemSpec(
        id=f"{site}-welcome", kind=ItemKind.TEXT, duration_s=15, text=TextSlide(title="Welcome")
    )
    return CampaignSpec(
        id=f"default-{site}",
        name=f"Welcome to {site}",
        targets=Targets(sites=frozenset([site])),
        items=(welcome, *side, *widgets),
        is_default=True,
        layouts={
            ProfileKind.INDOOR: LayoutTemplate.MAIN_SIDE_TICKER_CLOCK,
            ProfileKind.PORTAL: LayoutTemplate.MAIN_SIDE,
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=5000)
    parser.add_argument("--campaigns", type=int, default=2000)
    parser.add_argument(
        "--random-tags",
        action="store_true",
        help="two random tags per device, so no two devices are alike",
    )
    options = parser.parse_args()
    catalogue, devices, campaigns = build(
        options.devices, options.campaigns, random.Random(4), options.random_tags
    )
    valid_until = NOW + timedelta(days=14)

    # Wall time and this process's CPU time: on a shared machine the CPU figure is the
    # steadier one (other processes' load inflates wall time, not CPU time).
    started, cpu = time.perf_counter(), time.process_time()
    index = CampaignIndex(campaigns)
    compiler = ManifestCompiler(catalogue, index)
    manifests = compiler.compile_many(devices, generated_at=NOW, valid_until=valid_until)
    compile_all_s = time.perf_counter() - started
    compile_all_cpu_s = time.process_time() - cpu

    # An editor changes one campaign that targets one site: recompile what it reaches.
    window = ((NOW - timedelta(days=1)).date(), (valid_until + timedelta(days=1)).date())
    edited = next(c for c in campaigns if len(c.targets.sites) == 1 and c.overlaps(*window))
    changed = replace(edited, name=edited.name + " (edited)")
    started, cpu = time.perf_counter(), time.process_time()
    index.put(changed)
    touched = affected_devices(devices, edited.targets, changed.targets)
    again = compiler.compile_many(touched, generated_at=NOW, valid_until=valid_until)
    recompile_s = time.perf_counter() - started
    recompile_cpu_s = time.process_time() - cpu
    changed_count = sum(again[d].content_hash != manifests[d].content_hash for d in again)

    items = sum(len(m.manifest.items) for m in manifests.values())
    with_layout = sum(m.manifest.layout is not None for m in manifests.values())
    print(f"compile_devices={len(devices)}")
    print(f"compile_campaigns={len(campaigns)}")
    print(f"compile_items_total={items}")
    print(f"compile_devices_with_layout={with_layout}")
    print(f"compile_all_s={compile_all_s:.3f}")
    print(f"compile_all_cpu_s={compile_all_cpu_s:.3f}")
    print(f"recompile_one_site_devices={len(touched)}")
    print(f"recompile_one_site_changed={changed_count}")
    print(f"recompile_one_site_s={recompile_s:.4f}")
    print(f"recompile_one_site_cpu_s={recompile_cpu_s:.4f}")


if __name__ == "__main__":
    main()
