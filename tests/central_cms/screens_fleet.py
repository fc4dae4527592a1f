"""A small city's screens as the analytics fleet store sees them, for the Screens page
tests: status and screenshot reports of chosen ages, the screenshot commands the CMS sent,
a published text campaign, and the page's tiles."""

from __future__ import annotations

import base64
import io
import re
from datetime import timedelta

from flask import Flask
from PIL import Image

from central_cms import campaigns
from central_cms import models as m
from central_cms.analytics.ports import FleetStore
from central_cms.compiler import Targets
from central_cms.publisher import RecordingPublisher
from central_cms.runtime import CmsRuntime, parts
from devices.clock import ManualClock
from devices.protocol import (
    Channel,
    Command,
    CommandName,
    CommandResult,
    DeviceKind,
    DeviceState,
    ItemKind,
    NowShowing,
    Status,
    TextSlide,
    device_topic,
    parse_signed,
)
from signage_player.render import render_text_slide
from testkit.staff import ADMIN, APPROVER

INDOOR = ("sig-north-pool", "sig-south-library", "sig-east-hall")
ROADSIDE = "led-east-hall"
SIGNAGE = (*INDOOR, ROADSIDE)


def fleet_store(app: Flask) -> FleetStore:
    store: FleetStore = parts(app).analytics.stores.fleet
    return store


def frame_png(title: str, size: tuple[int, int] = (480, 270), **slide: str) -> bytes:
    """A frame as the player renders it, as the PNG a screenshot command returns."""
    roadside = size[1] < 200
    image = render_text_slide(TextSlide(title=title, **slide), size, title_only=roadside)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def report_status(
    store: FleetStore,
    device_id: str,
    clock: ManualClock,
    *,
    online: bool = True,
    showing: NowShowing | None = None,
) -> None:
    status = Status(
        device_id=device_id,
        kind=DeviceKind.SIGNAGE,
        state=DeviceState.ONLINE if online else DeviceState.OFFLINE,
        software_version="1.0.0",
        manifest_version=1,
        now_showing=showing,
        at=clock.now(),
    )
    store.record_status(status, clock.now())


def report_screenshot(
    store: FleetStore, device_id: str, png: bytes, age: timedelta, clock: ManualClock
) -> CommandResult:
    image = Image.open(io.BytesIO(png))
    result = CommandResult(
        command_id=f"cmd-{device_id}-{int(age.total_seconds())}",
        device_id=device_id,
        ok=True,
        detail=f"{image.width}x{image.height} PNG",
        data={
            "content_type": "image/png",
            "width_px": image.width,
            "height_px": image.height,
            "png_base64": base64.b64encode(png).decode("ascii"),
        },
        at=clock.now() - age,
    )
    store.record_command_result(result, clock.now())
    return result


def screenshot_commands(rt: CmsRuntime, *publishers: RecordingPublisher) -> list[Command]:
    key = rt.signing_key.public_key
    found = []
    for publisher in publishers:
        for topic, payload, retain in publisher.sent:
            if topic.endswith("/commands"):
                command = parse_signed(Command, payload, [key])
                assert topic == device_topic(command.device_id, Channel.COMMANDS)
                assert not retain  # a command is for now, never for a device joining later
                found.append(command)
    return [c for c in found if c.name is CommandName.SCREENSHOT]


def text_campaign(
    session,
    rt: CmsRuntime,
    name: str = "Swim school enrolments",
    title: str = "Term 1 swim classes",
    site_id: str = "north-pool",
    targets: Targets | None = None,
) -> m.CampaignItem:
    """A published campaign of one text slide (for the pool's devices by default)."""
    data = campaigns.CampaignInput(
        name=name,
        owner_site_id=site_id,
        items=(
            campaigns.ItemInput(kind=ItemKind.TEXT, text=TextSlide(title=title), duration_s=12),
        ),
        targets=targets or Targets(tags=frozenset({"pool"})),
    )
    campaign = campaigns.save(session, rt, ADMIN, data)
    campaigns.submit(session, rt, ADMIN, campaign.id)
    campaigns.approve(session, rt, APPROVER, campaign.id)
    return campaign.items[0]


def tiles(html: str) -> dict[str, str]:
    """Device heading -> that tile's HTML."""
    found = {}
    for tile in re.findall(r'<li class="screen">(.*?)</li>', html, flags=re.S):
        heading = re.search(r"<h2>(.*?)</h2>", tile)
        assert heading
        found[heading.group(1)] = tile
    return found
