"""Signage player figures. Prints name=value lines; never fails on time.

    .venv/bin/python bench/player.py [--broker-port 1883] [--video-only]

- render_jpeg_4000x3000_to_1920x1080_ms: a 12-megapixel photo-like JPEG decoded (draft)
  and filled onto a 1080p canvas, median of 15.
- switch_latency_ms: a signed manifest published on Mosquitto to the new frame on the
  headless display, its assets already cached, median of 10.
- alert_to_frame_ms: a signed alert published on Mosquitto to the alert's frame on the
  headless display, median of 10.
- render_layout_4zone_ms: a whole 1920x1080 frame of the main + side + ticker + clock
  layout drawn from nothing (no tile cached): a photo in the main zone (the 1080p
  rendition the CMS sends, `central_cms.media.rendition`: a JPEG since issue 14),
  today's timetable, a headline and the clock, composed; median of 15.
  render_layout_4zone_12mp_ms: the same with the 12-MP JPEG original in main.
- player_rss_mb: resident memory of a real `digital-spaces player` process (agent,
  player, paho, headless display) after switching the main zone of that layout between
  1080p photos from 12-MP JPEGs 6 times, the three widget zones showing throughout.
- video_handover_gap_ms: the largest gap from one item's last frame to the next one's
  first, from mpv's events, over three rounds of still -> 1080p H.264 video -> video ->
  still on the real player and one real mpv (bench/video_handover.py); its median too.
Targets (issue 5): 150 ms, 500 ms, 1,000 ms, 80 MB; issue 14: 100 ms for the layout;
issue 18: 40 ms (one frame at 25 fps) for the video hand-over.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psutil
from PIL import Image, ImageFilter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import video_handover  # noqa: E402
from central_cms.media import Encoded, rendition  # noqa: E402
from devices.agent import DeviceAgent, RecordingSystem  # noqa: E402
from devices.protocol import (  # noqa: E402
    Alert,
    AssetRef,
    Channel,
    ContentItem,
    Fit,
    ItemKind,
    Manifest,
    ProfileKind,
    Severity,
    SigningKey,
    SiteInfo,
    Status,
    alert_topic,
    device_topic,
    parse,
    sign,
)
from devices.protocol.feeds import FeedData, FeedEntry  # noqa: E402
from devices.protocol.layouts import (  # noqa: E402
    MAIN_ZONE,
    FeedRef,
    Layout,
    LayoutTemplate,
    Widget,
    WidgetKind,
    build_layout,
)
from signage_player.display import HeadlessDisplay  # noqa: E402
from signage_player.playback import Inputs  # noqa: E402
from signage_player.player import SignagePlayer  # noqa: E402
from signage_player.render import render_image  # noqa: E402
from signage_player.tiles import Look, compose, draw_tile, tile_key  # noqa: E402
from signage_player.zones import ScreenState, step_screen, zone_plans  # noqa: E402
from testkit.harness import (  # noqa: E402
    AssetServer,
    Observer,
    device_config,
    unique_id,
    write_device_config,
)
from testkit.messages import screen_profile  # noqa: E402


def photo_jpeg(size: tuple[int, int], tint: tuple[int, int, int]) -> bytes:
    """Noise blurred a little and tinted: compresses like a photo (a few MB), not a flat
    colour (a few KB)."""
    channels = [
        Image.effect_noise(size, 60)
        .filter(ImageFilter.GaussianBlur(1.5))
        .point(lambda v, t=t: min(255, v // 2 + t // 2))
        for t in tint
    ]
    buffer = io.BytesIO()
    Image.merge("RGB", channels).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def bench_render(data: bytes) -> tuple[float, float]:
    """Median wall time and CPU time (the CPU figure does not depend on how loaded a
    shared machine is)."""
    wall, cpu = [], []
    for _ in range(15):
        started, started_cpu = time.perf_counter(), time.process_time()
        render_image(data, (1920, 1080), Fit.FILL)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return statistics.median(wall), statistics.median(cpu)


LAYOUT = build_layout(LayoutTemplate.MAIN_SIDE_TICKER_CLOCK, 1920, 1080)
WIDGETS = (
    ("side", Widget(kind=WidgetKind.TIMETABLE, feed="classes", background="#00524a")),
    ("ticker", Widget(kind=WidgetKind.TICKER, feed="news", background="#222222")),
    ("clock", Widget(kind=WidgetKind.CLOCK)),
)


def widget_items() -> tuple[ContentItem, ...]:
    return tuple(
        ContentItem(id=zone, kind=ItemKind.WIDGET, widget=widget, duration_s=600, zone=zone)
        for zone, widget in WIDGETS
    )


def feed_data(now: datetime) -> dict[str, FeedData]:
    start = now.replace(minute=0, second=0, microsecond=0)
    classes = tuple(
        FeedEntry(
            title=f"Class {n}",
            starts_at=start + timedelta(hours=n),
            ends_at=start + timedelta(hours=n, minutes=45),
            location="Room 2",
        )
        for n in range(8)
    )
    news = tuple(FeedEntry(title=f"Headline number {n} from the council") for n in range(10))
    return {
        "classes": FeedData(id="classes", version=1, fetched_at=now, entries=classes),
        "news": FeedData(id="news", version=1, fetched_at=now, entries=news),
    }


def bench_layout(main_image: bytes, content_type: str) -> tuple[float, float]:
    """A full 4-zone frame from nothing: plan every zone, draw every tile, compose.
    Median wall and CPU time."""
    now = datetime.now(UTC)
    ref = AssetRef(
        sha256=hashlib.sha256(main_image).hexdigest(),
        url="http://127.0.0.1:1/photo",
        size_bytes=len(main_image),
        content_type=content_type,
    )
    screen = manifest("sig-bench-layout", "bench-site", 1, [ref], 0, layout=LAYOUT)
    feeds = feed_data(now).get
    look = Look((0, 0, 0), roadside=False)
    tz = ZoneInfo(screen.site.timezone)
    wall, cpu = [], []
    for _ in range(15):
        started, started_cpu = time.perf_counter(), time.process_time()
        plans = zone_plans(screen)
        step = step_screen(Inputs(manifest=screen), plans, ScreenState(), now)
        tiles = []
        for plan in plans:
            key = tile_key(step.steps[plan.name].state.slot, plan.size, look, now, tz, feeds)
            tiles.append((plan.box, draw_tile(key, lambda _sha: main_image)))
        frame, _ = compose((1920, 1080), None, tiles)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    assert frame.size == (1920, 1080)
    return statistics.median(wall), statistics.median(cpu)


def cms_rendition(photo: bytes) -> Encoded:
    """What the CMS sends for a 1080p profile: its own rendition of the photo."""
    return rendition(photo, 1920, 1080, Fit.FILL)


def manifest(
    device_id: str,
    site: str,
    version: int,
    refs: list[AssetRef],
    show: int,
    *,
    layout: Layout | None = None,
) -> Manifest:
    now = datetime.now(UTC)
    ref = refs[show]
    return Manifest(
        device_id=device_id,
        version=version,
        generated_at=now,
        valid_until=now + timedelta(days=1),
        site=SiteInfo(id=site, name="Bench site", timezone="Australia/Perth"),
        profile=screen_profile(ProfileKind.INDOOR, "1080p"),
        assets=tuple(refs),  # every asset listed, so all stay cached
        layout=layout,
        feeds=(FeedRef(id="classes", name="Classes"), FeedRef(id="news", name="News"))
        if layout
        else (),
        default_items=(
            ContentItem(
                id=f"photo-{show}",
                kind=ItemKind.IMAGE,
                asset=ref.sha256,
                duration_s=3600,
                fit=Fit.FILL,
                zone=MAIN_ZONE,
            ),
            *(widget_items() if layout else ()),
        ),
    )


def centre(frame: Image.Image) -> tuple[int, int, int]:
    pixel = frame.resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
    assert isinstance(pixel, tuple)
    return (int(pixel[0]), int(pixel[1]), int(pixel[2]))


def tinted(tint: tuple[int, int, int]):
    def check(frame: Image.Image) -> bool:
        average = centre(frame)
        expected = [64 + t // 2 for t in tint]  # noise averages ~128, halved, plus tint
        return all(abs(a - e) < 30 for a, e in zip(average, expected, strict=True))

    return check


def player_rss_mb(port: int, key: SigningKey, refs: list[AssetRef], scratch: str) -> float:
    """RSS of a real `digital-spaces player` process after it has shown each photo twice."""
    device_id, site = unique_id("sig-bench-rss"), unique_id("bench-site")
    config = write_device_config(
        Path(scratch) / "rss",
        device_id,
        port=port,
        keys=[key],
        extra="[intervals]\nhealth_s = 3600\noutbox_resend_s = 5\n"
        "[budgets]\ncache_mb = 64\noutbox_mb = 8\n"
        '[player]\ndisplay = "headless"\n',
    )
    status_topic = device_topic(device_id, Channel.STATUS)
    watcher = Observer(port, [status_topic])
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "digital_spaces",
            "--log-level",
            "WARNING",
            "player",
            "--config",
            str(config),
        ],
        cwd=ROOT,
    )

    def showing(item_id: str) -> bool:
        for payload in watcher.payloads(status_topic)[-3:]:
            if payload:
                status = parse(Status, payload)
                if status.now_showing and status.now_showing.item_id == item_id:
                    return True
        return False

    try:
        topic = device_topic(device_id, Channel.MANIFEST)
        for version in range(1, 7):
            show = version % len(refs)
            screen = manifest(device_id, site, version, refs, show, layout=LAYOUT)
            watcher.publish(topic, sign(screen, key), retain=True)
            wanted = f"photo-{show}"
            assert watcher.wait_for(lambda: showing(wanted), 60), "no switch"  # noqa: B023
        return float(psutil.Process(process.pid).memory_info().rss) / (1024 * 1024)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        watcher.publish(device_topic(device_id, Channel.MANIFEST), b"", retain=True)
        watcher.publish(status_topic, b"", retain=True)
        watcher.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--broker-port", type=int, default=1883)
    parser.add_argument("--video-only", action="store_true", help="only the mpv figures")
    options = parser.parse_args(argv)
    video_handover.report()
    if options.video_only:
        return 0

    tints = [(200, 40, 40), (40, 200, 40), (40, 40, 200)]
    photos = [photo_jpeg((4000, 3000), tint) for tint in tints]
    wall_ms, cpu_ms = bench_render(photos[0])
    print(f"render_jpeg_4000x3000_to_1920x1080_ms={wall_ms:.1f}")
    print(f"render_jpeg_4000x3000_to_1920x1080_cpu_ms={cpu_ms:.1f}")
    print(f"jpeg_bytes={len(photos[0])}")
    made = cms_rendition(photos[0])
    layout_ms, layout_cpu_ms = bench_layout(made.data, made.content_type)
    print(f"render_layout_4zone_ms={layout_ms:.1f}")
    print(f"render_layout_4zone_cpu_ms={layout_cpu_ms:.1f}")
    print(f"render_layout_4zone_12mp_ms={bench_layout(photos[0], 'image/jpeg')[0]:.1f}")

    key = SigningKey.generate()
    device_id, site = unique_id("sig-bench"), unique_id("bench-site")
    server = AssetServer()
    refs = [
        AssetRef(
            sha256=server.add(data).rsplit("/", 1)[-1],
            url=server.add(data),
            size_bytes=len(data),
            content_type="image/jpeg",
        )
        for data in photos
    ]
    cms = Observer(options.broker_port, [])
    with tempfile.TemporaryDirectory() as scratch:
        config = device_config(Path(scratch), device_id, port=options.broker_port, keys=[key])
        display = HeadlessDisplay()
        player = SignagePlayer(display)
        agent = DeviceAgent(config, player, system=RecordingSystem())
        agent.start()
        try:
            assert agent.link.connected.wait(15)
            topic = device_topic(device_id, Channel.MANIFEST)
            version = 1
            cms.publish(topic, sign(manifest(device_id, site, version, refs, 0), key), retain=True)
            assert display.wait_for(tinted(tints[0]), 60), "first manifest never showed"

            switches = []
            for round_ in range(10):
                show = (round_ + 1) % len(refs)
                version += 1
                payload = sign(manifest(device_id, site, version, refs, show), key)
                started = time.perf_counter()
                cms.publish(topic, payload, retain=True)
                assert display.wait_for(tinted(tints[show]), 30), "switch never showed"
                switches.append((time.perf_counter() - started) * 1000)
            print(f"switch_latency_ms={statistics.median(switches):.1f}")
            print(f"switch_latency_max_ms={max(switches):.1f}")

            alerts = []
            scope_topic = alert_topic(site)
            for round_ in range(10):
                now = datetime.now(UTC)
                alert = Alert(
                    id=f"bench-{round_}",
                    scope=site,
                    severity=Severity.EMERGENCY,
                    title="Evacuate now",
                    issued_at=now,
                    expires_at=now + timedelta(minutes=5),
                )
                started = time.perf_counter()
                cms.publish(scope_topic, sign(alert, key), retain=True)
                assert display.wait_for(lambda f: f.getpixel((2, 2)) == (190, 0, 0), 10)
                alerts.append((time.perf_counter() - started) * 1000)
                cleared = alert.model_copy(update={"cleared": True, "issued_at": datetime.now(UTC)})
                cms.publish(scope_topic, sign(cleared, key), retain=True)
                assert display.wait_for(lambda f: f.getpixel((2, 2)) != (190, 0, 0), 10)
            print(f"alert_to_frame_ms={statistics.median(alerts):.1f}")
            print(f"alert_to_frame_max_ms={max(alerts):.1f}")

            print(f"player_rss_mb={player_rss_mb(options.broker_port, key, refs, scratch):.1f}")
        finally:
            agent.stop()
            cms.publish(device_topic(device_id, Channel.MANIFEST), b"", retain=True)
            cms.publish(device_topic(device_id, Channel.STATUS), b"", retain=True)
            cms.publish(alert_topic(site), b"", retain=True)
            cms.close()
            server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
