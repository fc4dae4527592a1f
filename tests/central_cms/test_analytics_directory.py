"""The analytics store's device directory follows the CMS database as it changes, with no
page view in between: the ingest files a new device's events under its site from the
first one, and device health knows each device's published manifest."""

from __future__ import annotations

from sqlalchemy import select

from central_cms import models as m
from central_cms.analytics.model import DeviceInfo
from central_cms.runtime import parts


def _directory(app) -> dict[str, DeviceInfo]:
    fleet = parts(app).analytics.stores.fleet
    return {s.device_id: s.info for s in fleet.fleet() if s.info is not None}


def test_devices_sites_and_manifests_reach_the_directory_when_committed(app, session, world):
    known = _directory(app)
    assert {d: known[d].site_id for d in world.devices} == world.devices
    states = {s.device_id: s for s in session.scalars(select(m.ManifestState))}
    for device_id in world.devices:
        published = states[device_id].version or None
        assert known[device_id].expected_manifest_version == published

    site = session.get(m.Site, world.sites[0])
    assert site is not None
    site.timezone = "Australia/Adelaide"
    device_id = next(d for d, s in world.devices.items() if s == site.id)
    device = session.get(m.Device, device_id)
    assert device is not None
    device.name = "Foyer, by the lifts"
    session.commit()
    known = _directory(app)
    assert known[device_id].timezone == "Australia/Adelaide"
    assert known[device_id].name == "Foyer, by the lifts"
