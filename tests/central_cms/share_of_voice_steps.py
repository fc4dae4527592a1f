"""Share-of-voice journeys' shared steps: the editor's form, publishing, the screen's own
planner over a day, and its plays into the CMS's analytics store."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from flask import Flask
from sqlalchemy.orm import Session

from central_cms import campaigns
from central_cms import models as m
from central_cms.compiler import Targets
from central_cms.publisher import RecordingPublisher
from central_cms.runtime import CmsRuntime, parts
from devices.clock import ManualClock
from devices.protocol import (
    EventBatch,
    ItemKind,
    Manifest,
    PlayData,
    PlayEvent,
    TextSlide,
    parse_signed,
)
from devices.protocol.events_wire import from_model
from signage_player.playback import Inputs, PlayState, finish, step
from testkit.staff import ADMIN, APPROVER

SCREEN = "sig-north-pool"
PERTH_MIDNIGHT = datetime(2026, 11, 30, 16, tzinfo=UTC)  # 1 December 00:00 in Perth


def editor_form(token: str, **changes: str) -> dict[str, str]:
    form = {
        "csrf_token": token,
        "name": "Swim school term 1",
        "owner_site_id": "north-pool",
        "priority": "50",
        "target_sites": "north-pool",
        "target_kinds": "signage",
        "window-0-start": "08:00",
        "window-0-end": "18:00",
        "items-0-kind": "text",
        "items-0-title": "Learn to swim",
        "items-0-duration_s": "10",
        "items-0-weight": "1",
        "items-1-kind": "text",
        "items-1-title": "Enrol now for term 1",
        "items-1-duration_s": "15",
        "items-1-weight": "1",
        "share_amount": "25",
        "share_unit": "percent",
    }
    form.update(changes)
    return form


def latest_manifest(publisher: RecordingPublisher, rt: CmsRuntime, device_id: str) -> Manifest:
    found = None
    for _topic, payload, _retain in publisher.sent:
        if payload:
            manifest = parse_signed(Manifest, payload, [rt.signing_key.public_key])
            if manifest.device_id == device_id:
                found = manifest
    assert found is not None, f"nothing published for {device_id}"
    return found


def publish(session: Session, rt: CmsRuntime, name: str, share: int | None) -> m.Campaign:
    data = campaigns.CampaignInput(
        name=name,
        owner_site_id="north-pool",
        items=(campaigns.ItemInput(kind=ItemKind.TEXT, duration_s=20, text=TextSlide(title=name)),),
        targets=Targets(sites=frozenset({"north-pool"})),
        share_s_per_hour=share,
    )
    campaign = campaigns.save(session, rt, ADMIN, data)
    if campaigns.submit(session, rt, ADMIN, campaign.id).status == m.CampaignStatus.PENDING:
        campaigns.approve(session, rt, APPROVER, campaign.id)
    return campaign


def play_a_day(manifest: Manifest) -> list[PlayData]:
    """The screen's own planner, on a manual clock, from Perth midnight to midnight."""
    clock = ManualClock(PERTH_MIDNIGHT)
    end = PERTH_MIDNIGHT + timedelta(days=1)
    inputs, state, plays = Inputs(manifest=manifest), PlayState(), []
    while clock.now() < end:
        result = step(inputs, state, clock.now())
        state = result.state
        plays += [event for event in result.events if event.alert_id is None]
        clock.set(min(result.wake_at, end))
    plays += finish(state, clock.now())[1]
    return plays


def ingest(app: Flask, device_id: str, plays: list[PlayData]) -> None:
    """Into the CMS's analytics store, through the store's own entry point."""
    epoch = uuid.uuid4().hex
    events = [
        PlayEvent(id=str(uuid.uuid4()), seq=seq, at=play.ended_at, data=play)
        for seq, play in enumerate(plays, start=1)
    ]
    stores = parts(app).analytics.stores
    device = stores.fleet.device(device_id)  # as the ingest looks it up: site and zone
    assert device is not None and device.timezone == "Australia/Perth"
    for first in range(0, len(events), 5000):
        chunk = EventBatch(
            device_id=device_id, outbox_epoch=epoch, events=events[first : first + 5000]
        )
        stores.events.store_batches([(from_model(chunk), device)])
