"""Test cities made through the CMS's service functions (never the demo seed): building
blocks (a site, a screen profile, a screen) every test city is made of, the three-site
`make_world`, the one-site `small_city`, and real device agents configured from the file
the CMS hands out at registration."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from central_cms import fleet, library
from central_cms import models as m
from central_cms.policy import Actor
from central_cms.runtime import CmsRuntime
from devices.agent import DeviceAgent, RecordingSystem
from devices.clock import Clock
from devices.config import load_device_config
from devices.protocol import DeviceKind, ProfileKind
from testkit.harness import RecordingApp
from testkit.images import png
from testkit.messages import PROFILE_SHAPES
from testkit.staff import ADMIN

# --- building blocks: a site, a screen profile, a screen ---------------------------------


def add_site(
    session: Session,
    rt: CmsRuntime,
    site_id: str,
    *,
    name: str | None = None,
    timezone: str = "Australia/Perth",
    requires_approval: bool = False,
    actor: Actor = ADMIN,
) -> None:
    """A site named after its id ("north-pool" -> "North Pool") unless named."""
    fleet.save_site(
        session,
        rt,
        actor,
        site_id=site_id,
        name=name or site_id.replace("-", " ").title(),
        address="",
        timezone=timezone,
        requires_approval=requires_approval,
    )


def add_profile(
    session: Session,
    rt: CmsRuntime,
    profile_id: str,
    kind: ProfileKind = ProfileKind.INDOOR,
    *,
    name: str | None = None,
    actor: Actor = ADMIN,
) -> None:
    """A screen profile of `kind`: roadside LEDs show no video, no transitions and no
    contact text (the rules the compiler enforces for them)."""
    width, height, dwell = PROFILE_SHAPES[kind]
    roadside = kind is ProfileKind.ROADSIDE
    fleet.save_profile(
        session,
        rt,
        actor,
        m.ScreenProfile(
            id=profile_id,
            name=name or profile_id.title(),
            kind=kind.value,
            width_px=width,
            height_px=height,
            min_dwell_s=dwell,
            allow_video=not roadside,
            transitions=not roadside,
            forbid_contact_text=roadside,
            brightness=[],
        ),
    )


def add_screen(
    session: Session,
    rt: CmsRuntime,
    device_id: str,
    site_id: str,
    profile_id: str,
    *,
    kind: DeviceKind = DeviceKind.SIGNAGE,
    tags: Sequence[str] = (),
    actor: Actor = ADMIN,
) -> None:
    fleet.register_device(
        session,
        rt,
        actor,
        device_id=device_id,
        name="",
        kind=kind,
        site_id=site_id,
        profile_id=profile_id,
        tags=list(tags),
    )


# --- cities ------------------------------------------------------------------------------


@dataclass
class World:
    """Three sites, five devices and a poster (see make_world)."""

    sites: list[str] = field(default_factory=list)
    devices: dict[str, str] = field(default_factory=dict)  # device id -> site id
    media: dict[str, int] = field(default_factory=dict)


def make_world(session: Session, rt: CmsRuntime, suffix: str = "") -> World:
    """North Pool and East Hall (approval needed) and South Library; indoor screens, a
    portal at the pool and a roadside LED at the hall; a poster in the library."""
    world = World()
    for site_id, approval in (("north-pool", True), ("south-library", False), ("east-hall", True)):
        add_site(session, rt, site_id, requires_approval=approval)
        world.sites.append(site_id)
    add_profile(session, rt, "indoor", ProfileKind.INDOOR)
    add_profile(session, rt, "led-small", ProfileKind.ROADSIDE)
    add_profile(session, rt, "splash", ProfileKind.PORTAL)
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
        add_screen(session, rt, device_id, site_id, profile, kind=kind, tags=tags)
        world.devices[device_id] = site_id
    world.media["poster"] = library.upload(
        session, rt, ADMIN, filename="poster.png", data=png(800, 450), title="Poster"
    ).id
    return world


def small_city(session: Session, rt: CmsRuntime, site_id: str) -> None:
    """One site (no approval step) with an indoor screen profile."""
    add_site(session, rt, site_id)
    add_profile(session, rt, f"{site_id}-indoor", name="Indoor")
    session.commit()


def register_screen(
    session: Session, rt: CmsRuntime, site_id: str, device_id: str, folder: Path
) -> Path:
    """Register a screen and write the configuration file the CMS hands out for it."""
    add_screen(session, rt, device_id, site_id, f"{site_id}-indoor")
    return device_config_file(session, rt, device_id, folder)


def device_config_file(
    session: Session, rt: CmsRuntime, device_id: str, folder: Path, extra: str = ""
) -> Path:
    """The configuration file IT installs on a registered device: fresh credentials from
    the CMS, data under `folder`/`device_id`, `extra` TOML sections (e.g. [portal])."""
    registration = fleet.reissue_credentials(
        session, rt, ADMIN, device_id, data_dir=str(folder / device_id), extra=extra
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
