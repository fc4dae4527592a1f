"""A one-site city made through the CMS's service functions, and real device agents
configured from the file the CMS hands out at registration (shared by the renewal and
broker-identity tests; no test module imports another)."""

from __future__ import annotations

import secrets
from pathlib import Path

from sqlalchemy.orm import Session

from central_cms import fleet
from central_cms import models as m
from central_cms.policy import Actor
from central_cms.runtime import CmsRuntime
from devices.agent import DeviceAgent, RecordingSystem
from devices.clock import Clock
from devices.config import load_device_config
from devices.protocol import DeviceKind, ProfileKind
from tests.devices.harness import RecordingApp

ADMIN = Actor("test-admin", m.Role.ADMIN)


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


def clear_retained(port: int, topics: list[str]) -> None:
    """Empty retained payloads, so a shared broker keeps nothing of this test's."""
    from tests.brokers import paho_client

    client = paho_client(f"clear-{secrets.token_hex(4)}", port)
    try:
        for info in [client.publish(t, b"", qos=1, retain=True) for t in topics]:
            info.wait_for_publish(5)
    finally:
        client.loop_stop()
        client.disconnect()
