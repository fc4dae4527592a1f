"""QR links benchmark: what per-screen short links cost the compiler, the player and /l/.

Prints name=value lines:
* compile_all_links_cpu_s / compile_all_plain_cpu_s: bench/compile.py's 5,000 devices x 2,000
  campaigns, a quarter of the campaigns' pictures carrying a link, with and without short
  links (the compiler's target stays 2 s).
* draw_qr_ms: one code drawn in the corner of a 1920x1080 frame (median of 50).
* redirect_ms: GET /l/<code> through the CMS on SQLite, counted and redirected
  (median of 200, in-process, no network).
Usage: .venv/bin/python bench/links.py [--devices N] [--campaigns N]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image

from bench.compile import NOW, build
from central_cms.compiler import CampaignIndex, CampaignSpec, ManifestCompiler
from central_cms.links import ShortLinker
from signage_player.qr import corner_box, draw_qr

LINK = "https://bookings.example.org/swim-school"


def with_links(campaigns: list[CampaignSpec]) -> list[CampaignSpec]:
    return [
        replace(c, items=tuple(replace(i, link_url=LINK) if i.media else i for i in c.items))
        if n % 4 == 0
        else c
        for n, c in enumerate(campaigns)
    ]


def compile_s(catalogue, devices, campaigns) -> tuple[float, int]:
    """CPU seconds: the steadier figure on a shared machine (see bench/compile.py)."""
    started = time.process_time()
    compiler = ManifestCompiler(catalogue, CampaignIndex(campaigns))
    manifests = compiler.compile_many(
        devices, generated_at=NOW, valid_until=NOW + timedelta(days=14)
    )
    elapsed = time.process_time() - started
    coded = sum(1 for m in manifests.values() for i in m.manifest.items if i.qr is not None)
    return elapsed, coded


def draw_ms() -> float:
    times = []
    for _ in range(50):
        frame = Image.new("RGB", (1920, 1080), (0, 58, 112))
        started = time.perf_counter()
        draw_qr(frame, corner_box(frame.size), "https://go.city.example/l/k3v9q2mxw7ha", "Scan")
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def redirect_ms() -> float:
    from central_cms import db as cms_db
    from central_cms import models as m
    from central_cms.app import create_app
    from central_cms.config import load_config
    from central_cms.link_models import ShortLink
    from central_cms.publisher import RecordingPublisher
    from central_cms.runtime import parts

    with tempfile.TemporaryDirectory() as folder:
        config = load_config(env={}, instance_path=Path(folder)).with_changes(
            link_scans_per_minute=10_000
        )
        app = create_app(config, publisher=RecordingPublisher(), renewal=False)
        now = datetime.now(UTC)
        with cms_db.database(app).sessions() as session:
            session.add(m.Site(id="s", name="S", timezone="UTC"))
            session.add(m.ScreenProfile(id="p", name="P", kind="indoor", width_px=1, height_px=1))
            session.flush()
            session.add(
                m.Device(id="d", kind="signage", site_id="s", profile_id="p", created_at=now)
            )
            session.add(
                m.Campaign(
                    id="c",
                    name="C",
                    owner_site_id="s",
                    status="published",
                    created_by="b",
                    created_at=now,
                    updated_at=now,
                )
            )
            session.flush()
            session.add(
                ShortLink(
                    code="abcdefghijkm",
                    item_id="i",
                    campaign_id="c",
                    device_id="d",
                    site_id="s",
                    destination=LINK,
                    issued_at=now,
                )
            )
            session.commit()
        client = app.test_client()
        times = []
        for _ in range(200):
            started = time.perf_counter()
            response = client.get("/l/abcdefghijkm")
            times.append(time.perf_counter() - started)
            assert response.status_code == 302
        parts(app).close()
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=5000)
    parser.add_argument("--campaigns", type=int, default=2000)
    options = parser.parse_args()
    catalogue, devices, campaigns = build(
        options.devices, options.campaigns, random.Random(4), False
    )
    linked = with_links(campaigns)
    plain_s, _ = compile_s(catalogue, devices, linked)
    linker = ShortLinker("https://go.city.example", b"bench-secret")
    links_s, coded = compile_s(replace(catalogue, short_links=linker), devices, linked)
    print(f"compile_all_plain_cpu_s={plain_s:.3f}")
    print(f"compile_all_links_cpu_s={links_s:.3f}")
    print(f"qr_items_total={coded}")
    print(f"draw_qr_ms={draw_ms():.2f}")
    print(f"redirect_ms={redirect_ms():.2f}")


if __name__ == "__main__":
    main()
