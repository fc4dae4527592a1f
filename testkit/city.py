"""Small cities made through the CMS's service functions (never the demo seed): the
three-site `make_world`, the one-site `small_city`, and real device agents configured from
the file the CMS hands out at registration."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from central_cms import fleet, library
from central_cms import models as m
from central_cms.runtime import CmsRuntime
from devices.agent import DeviceAgent, RecordingSystem
from devices.clock import Clock
from devices.config import load_device_config
from devices.protocol import DeviceKind, ProfileKind
from testkit.harness import RecordingApp
from testkit.images import png
from testkit.staff import ADMIN


@dataclass
class World:
    """A small city made through the service functions (not the demo seed)."""

    sites: list[str] = field(default_factory=list)
    devices: dict[str, str] = field(default_factory=dict)  # device id -> site id
    media: dict[str, int] = field(default_factory=dict)


def make_world(session: Session, rt: CmsRuntime, suffix: str = "") -> World:
    world = World()
    for site_id, approval in (("north-pool", True), ("south-library", False), ("east-hall", True)):
        fleet.save_site(
            session,
            rt,
            ADMIN,
            site_id=site_id,
            name=site_id.replace("-", " ").title(),
            address="",
            timezone="Australia/Perth",
            requires_approval=approval,
        )
        world.sites.append(site_id)
    for pid, profile_kind, w, h, dwell, video, contact in (
        ("indoor", ProfileKind.INDOOR, 1920, 1080, 0, True, False),
        ("led-small", ProfileKind.ROADSIDE, 192, 96, 10, False, True),
        ("splash", ProfileKind.PORTAL, 1080, 1920, 0, True, False),
    ):
        fleet.save_profile(
            session,
            rt,
            ADMIN,
            m.ScreenProfile(
                id=pid,
                name=pid.title(),
                kind=profile_kind.value,
                width_px=w,
                height_px=h,
                min_dwell_s=dwell,
                allow_video=video,
                transitions=profile_kind is not ProfileKind.ROADSIDE,
                forbid_contact_text=contact,
                brightness=[],
            ),
        )
    session.commit()
    plan = [
        ("north-pool", "sig", DeviceKind.SIGNAGE, "indoor", ["pool"]),
        ("north-pool", "portal", DeviceKind.PORTAL, "splash", ["pool"]),
        ("south-library", "sig", DeviceKind.SIGNAGE, "indoor", ["library"]),
        ("east-hall", "sig", DeviceKind.SIGNAGE, "indoor", []),
        ("east-hall", "led", DeviceKind.SIGNAGE, "led-small", ["roadside"]),
    ]
    for site_id, prefix, kind, profile, tags in plan:
        device_id = f"{prefix}-{site_id}{suffix}"
        fleet.register_device(
            session,
            rt,
            ADMIN,
            device_id=device_id,
            name="",
            kind=kind,
            site_id=site_id,
            profile_id=profile,
            tags=tags,
        )
        world.devices[device_id] = site_id
    world.media["poster"] = library.upload(
        session, rt, ADMIN, filename="poster.png", data=png(800, 450), title="Poster"
    ).id
    return world


def small_city(session: Session, rt: CmsRuntime, site_id: str) -> None:
    """One site (no approval step) with an indoor screen profile."""
    fleet.save_site(
        session,
        rt,
        ADMIN,
        site_id=site_id,
        name=site_id.replace("-", " ").title(),
        address="",
        timezone="Australia/Perth",
        requires_approval=False,
    )
    fleet.save_profile(
        session,
        rt,
        ADMIN,
        m.ScreenProfile(
            id=f"{site_id}-indoor",
            name="Indoor",
            kind=ProfileKind.INDOOR.value,
            width_px=1920,
            height_px=1080,
            min_dwell_s=0,
            allow_video=True,
            transitions=True,
            forbid_contact_text=False,
            brightness=[],
        ),
    )
    session.commit()


def register_screen(
    session: Session, rt: CmsRuntime, site_id: str, device_id: str, folder: Path
) -> Path:
    """Register a screen and write the configuration file the CMS hands out for it."""
    fleet.register_device(
        session,
        rt,
        ADMIN,
        device_id=device_id,
        name="",
        kind=DeviceKind.SIGNAGE,
        site_id=site_id,
        profile_id=f"{site_id}-indoor",
        tags=[],
    )
    registration = fleet.reissue_credentials(
        session, rt, ADMIN, device_id, data_dir=str(folder / device_id)
    )
    session.commit()
    # Tests connect at once: no fleet jitter.
    text = registration.config_toml.replace("[mqtt]\n", "[mqtt]\nconnect_jitter_s = 0\n", 1)
    path = folder / f"{device_id}.toml"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def start_agent(config_path: Path, clock: Clock) -> tuple[DeviceAgent, RecordingApp]:
    """A real device agent (the recording app in place of a screen) from its config file."""
    app = RecordingApp()
    agent = DeviceAgent(load_device_config(config_path), app, clock=clock, system=RecordingSystem())
    agent.start()
    return agent, app
