"""A simulated city fleet for the analytics pages: a CMS world, then two weeks of
proof-of-play, Wi-Fi and health published through Mosquitto into the real ingest."""

from __future__ import annotations

import base64
import io
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from PIL import Image, ImageDraw

from central_cms import models as m
from central_cms.policy import Actor
from devices.protocol import (
    Channel,
    CommandResult,
    DeviceKind,
    DeviceState,
    DisplayPower,
    EventBatch,
    Health,
    NowShowing,
    ProfileKind,
    Status,
    Throttling,
    device_topic,
)
from testkit.city import add_profile, add_screen, add_site
from tests.analytics.events import joined, play, promo, session_ended

NOW = datetime(2026, 12, 15, 2, 0, tzinfo=UTC)  # 10:00 on a Tuesday in Perth
ADMIN = Actor("sim-admin", m.Role.ADMIN)
SITES = {
    "riverton-lib": "Riverton Library",
    "cannington-leisure": "Cannington Leisureplex",
    "bentley-lib": "Bentley Library",
    "albany-hwy": "Albany Highway roadside",
}
SIGNAGE = {
    "sig-riverton-lib-foyer": "riverton-lib",
    "sig-cannington-pool": "cannington-leisure",
    "sig-bentley-lib-desk": "bentley-lib",
    "led-albany-hwy-01": "albany-hwy",
}
PORTALS = {"portal-riverton-lib": "riverton-lib", "portal-cannington-leisure": "cannington-leisure"}
CAMPAIGNS = {
    "swim-school": "Swim school enrolments",
    "holiday-programme": "School holiday programme",
    "storytime": "Storytime at the library",
    "road-safety": "Slow down near schools",
}


def build_world(session, rt) -> None:
    for site_id, name in SITES.items():
        add_site(session, rt, site_id, name=name, actor=ADMIN)
    add_profile(session, rt, "indoor", ProfileKind.INDOOR, actor=ADMIN)
    add_profile(session, rt, "led", ProfileKind.ROADSIDE, actor=ADMIN)
    add_profile(session, rt, "splash", ProfileKind.PORTAL, actor=ADMIN)
    session.commit()
    for device_id, site_id in SIGNAGE.items():
        profile = "led" if device_id.startswith("led-") else "indoor"
        add_screen(session, rt, device_id, site_id, profile, actor=ADMIN)
    for device_id, site_id in PORTALS.items():
        add_screen(session, rt, device_id, site_id, "splash", kind=DeviceKind.PORTAL, actor=ADMIN)
    for campaign_id, name in CAMPAIGNS.items():
        session.add(
            m.Campaign(
                id=campaign_id,
                name=name,
                owner_site_id="riverton-lib",
                created_by="sim",
                created_at=NOW,
                updated_at=NOW,
            )
        )
    session.commit()


@dataclass
class Published:
    messages: int = 0


def _epoch() -> str:
    return uuid.uuid4().hex


def event_batches(rng: random.Random, days: int = 14) -> list[EventBatch]:
    batches = []
    start = NOW - timedelta(days=days)
    for device_id, site_id in SIGNAGE.items():
        epoch, seq = _epoch(), 0
        events: list[Any] = []
        campaigns = (
            ["road-safety"]
            if device_id.startswith("led-")
            else ["swim-school", "holiday-programme"]
            + (["storytime"] if site_id.endswith("-lib") else [])
        )
        for day in range(days):
            for _ in range(rng.randint(60, 160)):
                seq += 1
                at = start + timedelta(days=day, hours=rng.uniform(0, 12))
                scheduled = 10.0
                shown = scheduled if rng.random() > 0.08 else rng.uniform(1, 9)
                campaign = rng.choice([*campaigns, None])
                events.append(
                    play(
                        seq,
                        at,
                        campaign=campaign,
                        shown_s=shown,
                        scheduled_s=scheduled,
                        item=f"{campaign or 'welcome'}-1",
                    )
                )
        events.sort(key=lambda e: e.seq)
        batches += [
            EventBatch(device_id=device_id, outbox_epoch=epoch, events=tuple(events[i : i + 1000]))
            for i in range(0, len(events), 1000)
        ]
    visitors = [uuid.UUID(int=rng.getrandbits(128)).hex[:16] for _ in range(220)]
    for device_id in PORTALS:
        epoch, seq = _epoch(), 0
        events = []
        for day in range(days):
            for _ in range(rng.randint(15, 45)):
                visitor = rng.choice(visitors)
                at = start + timedelta(days=day, hours=rng.uniform(0, 11))
                for event in (
                    joined(seq + 1, at, visitor),
                    promo(
                        seq + 2,
                        at,
                        clicked=False,
                        visitor=visitor,
                        campaign="holiday-programme",
                        item="holiday-1",
                    ),
                    promo(
                        seq + 3,
                        at,
                        clicked=False,
                        visitor=visitor,
                        campaign="swim-school",
                        item="swim-1",
                    ),
                ):
                    events.append(event)
                seq += 3
                if rng.random() < 0.12:
                    seq += 1
                    events.append(
                        promo(
                            seq,
                            at,
                            clicked=True,
                            visitor=visitor,
                            campaign="holiday-programme",
                            item="holiday-1",
                        )
                    )
                if rng.random() < 0.05:
                    seq += 1
                    events.append(
                        promo(
                            seq,
                            at,
                            clicked=True,
                            visitor=visitor,
                            campaign="swim-school",
                            item="swim-1",
                        )
                    )
                seq += 1
                events.append(
                    session_ended(
                        seq,
                        at + timedelta(minutes=40),
                        visitor,
                        rng.choice([120, 600, 1500, 2400, 4000, 9000]) * rng.uniform(0.5, 1.5),
                    )
                )
        batches += [
            EventBatch(device_id=device_id, outbox_epoch=epoch, events=tuple(events[i : i + 1000]))
            for i in range(0, len(events), 1000)
        ]
    return batches


def status(
    device_id: str,
    kind: DeviceKind,
    state: DeviceState,
    at: datetime,
    manifest_version: int | None = 1,
    software: str = "1.4.2",
    campaign: str | None = "swim-school",
    display: DisplayPower = DisplayPower.ON,
) -> Status:
    showing = None
    if state is DeviceState.ONLINE and kind is DeviceKind.SIGNAGE and display is DisplayPower.ON:
        showing = NowShowing(item_id=f"{campaign}-1", campaign_id=campaign, since=at)
    elif state is DeviceState.ONLINE and kind is DeviceKind.SIGNAGE:
        showing = NowShowing(item_id=None, since=at, display=display)
    return Status(
        device_id=device_id,
        kind=kind,
        state=state,
        software_version=software,
        manifest_version=manifest_version,
        now_showing=showing,
        at=at,
    )


def health_series(
    device_id: str,
    rng: random.Random,
    end: datetime,
    hours: int = 24,
    temperature: float = 52.0,
    disk: float = 41.0,
    throttled: int = 0,
) -> list[Health]:
    samples = []
    for n in range(hours * 6):
        at = end - timedelta(minutes=10 * (hours * 6 - 1 - n))
        warm = 6 * (1 if 8 <= (at.hour + 8) % 24 <= 17 else 0)
        flags = ("under-voltage", "throttled") if throttled and n > hours * 5 else ()
        samples.append(
            Health(
                device_id=device_id,
                at=at,
                uptime_s=3600 * 24 * 9 + 600 * n,
                cpu_percent=min(100, max(0, rng.gauss(22, 6))),
                load_1m=0.4,
                memory_used_percent=min(100, max(0, rng.gauss(38, 2))),
                memory_available_bytes=1_200_000_000,
                disk_used_percent=disk + n * 0.001,
                disk_free_bytes=int((100 - disk) * 300_000_000),
                net_bytes_sent=n * 1000,
                net_bytes_recv=n * 5000,
                temperature_c=round(
                    temperature + warm + rng.gauss(0, 1.2) + (n / (hours * 6)) * 4, 1
                ),
                throttling=Throttling(raw=throttled if flags else 0, flags=flags),
                outbox_pending=rng.randint(0, 30),
            )
        )
    return samples


def screenshot_png() -> str:
    image = Image.new("RGB", (480, 270), "#003a70")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 200, 480, 270), fill="#ffbf47")
    draw.text((24, 40), "Swim school enrolments", fill="#ffffff", font_size=30)
    draw.text((24, 90), "Term 1 classes open now", fill="#ffffff", font_size=22)
    draw.text((24, 220), "Cannington Leisureplex", fill="#1b1f24", font_size=22)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def publish_fleet(client, clock, wait_ingested, rng: random.Random) -> None:
    """Publish the whole fleet's life; `wait_ingested(n)` blocks until the ingest has
    handled n messages in all."""
    sent = 0

    def send(topic: str, payload: bytes, retain: bool = False) -> None:
        nonlocal sent
        client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)
        sent += 1

    # 50 minutes ago the roadside screen lost power: its last will says offline.
    clock.set(NOW - timedelta(minutes=50))
    led = "led-albany-hwy-01"
    for sample in health_series(led, rng, NOW - timedelta(minutes=55), temperature=38):
        send(device_topic(led, Channel.HEALTH), sample.encode())
    batches = event_batches(rng)
    for batch in (b for b in batches if b.device_id == led):
        send(device_topic(led, Channel.EVENTS), batch.encode())
    offline = status(
        led, DeviceKind.SIGNAGE, DeviceState.OFFLINE, NOW - timedelta(hours=3), manifest_version=3
    )
    send(device_topic(led, Channel.STATUS), offline.encode(), retain=True)
    wait_ingested(sent)
    clock.set(NOW)
    for batch in (b for b in batches if b.device_id != led):
        send(device_topic(batch.device_id, Channel.EVENTS), batch.encode())
    plans = {
        "sig-riverton-lib-foyer": dict(),
        "sig-cannington-pool": dict(temperature=72, throttled=0x50005),
        "sig-bentley-lib-desk": dict(disk=96),
        "portal-riverton-lib": dict(),
        "portal-cannington-leisure": dict(temperature=45),
    }
    for device_id, plan in plans.items():
        for sample in health_series(device_id, rng, NOW, **plan):
            send(device_topic(device_id, Channel.HEALTH), sample.encode())
    for device_id in SIGNAGE:
        if device_id == led:
            continue
        version = 2 if device_id == "sig-bentley-lib-desk" else 3
        software = "1.3.9" if device_id == "sig-bentley-lib-desk" else "1.4.2"
        # The library foyer's screen is off outside its opening hours (issue 18).
        off_hours = device_id == "sig-riverton-lib-foyer"
        send(
            device_topic(device_id, Channel.STATUS),
            status(
                device_id,
                DeviceKind.SIGNAGE,
                DeviceState.ONLINE,
                NOW - timedelta(hours=5),
                manifest_version=version,
                software=software,
                display=DisplayPower.SCHEDULED_OFF if off_hours else DisplayPower.ON,
            ).encode(),
            retain=True,
        )
    for device_id in PORTALS:
        send(
            device_topic(device_id, Channel.STATUS),
            status(
                device_id,
                DeviceKind.PORTAL,
                DeviceState.ONLINE,
                NOW - timedelta(hours=5),
                manifest_version=3,
            ).encode(),
            retain=True,
        )
    send(
        device_topic("sig-cannington-pool", Channel.COMMAND_RESULTS),
        CommandResult(
            command_id="shot-" + uuid.uuid4().hex[:8],
            device_id="sig-cannington-pool",
            ok=True,
            detail="480x270 PNG",
            data={
                "content_type": "image/png",
                "width_px": 480,
                "height_px": 270,
                "png_base64": screenshot_png(),
            },
            at=NOW - timedelta(minutes=3),
        ).encode(),
    )
    wait_ingested(sent)
