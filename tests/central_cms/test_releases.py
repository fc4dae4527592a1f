"""Releases and channels through the CMS's service functions, on both databases (issue
18): what IT is told when a wheel is wrong, who may roll out, what devices are sent, and
how the watcher moves a channel on from what screens report."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

import pytest

from central_cms import db as cms_db
from central_cms import groups, releases
from central_cms import models as m
from central_cms.errors import Conflict, Invalid
from central_cms.policy import Actor, Forbidden
from central_cms.release_models import ReleaseChannel
from central_cms.runtime import parts
from devices.protocol import DeviceKind, DeviceState, Manifest, Status, parse_signed
from devices.protocol.releases import Release, UpdateReport, UpdateState, rollout_bucket
from devices.protocol.topics import release_topic
from testkit.releases import build_wheel
from testkit.staff import ADMIN

IT = Actor("test-it", m.Role.IT)
EDITOR = Actor("test-editor", m.Role.EDITOR)


def _published(publisher, rt, topic_type, topic):
    payloads = [p for t, p, _ in publisher.sent if t == topic and p]
    assert payloads, f"nothing published on {topic}"
    return parse_signed(topic_type, payloads[-1], [rt.signing_key.public_key])


def _wheel(tmp_path, version="2.0.0") -> bytes:
    return build_wheel(version, tmp_path / "wheels").read_bytes()


def test_a_wrong_wheel_is_refused_with_a_reason(session, rt, tmp_path):
    with pytest.raises(Invalid, match="not even a zip"):
        releases.upload(session, rt, IT, data=b"MZ not a wheel")
    other = io.BytesIO()
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("requests-2.0.dist-info/METADATA", "Name: requests\nVersion: 2.0\n")
    with pytest.raises(Invalid, match="not a digital-spaces wheel"):
        releases.upload(session, rt, IT, data=other.getvalue())
    releases.upload(session, rt, IT, data=_wheel(tmp_path), notes="Faster start-up")
    with pytest.raises(Conflict, match="uploaded already"):
        releases.upload(session, rt, IT, data=_wheel(tmp_path))
    with pytest.raises(Forbidden):
        releases.upload(session, rt, EDITOR, data=_wheel(tmp_path, "2.0.1"))


def test_a_group_following_a_channel_gets_it_in_its_manifests(world, session, rt, publisher):
    screens = ["sig-north-pool", "sig-south-library"]
    group = groups.save(session, rt, ADMIN, name="Indoor", device_ids=screens)
    publisher.sent.clear()
    releases.follow(session, rt, IT, group.id, "Stable")
    for device_id in screens:
        manifest = _published(publisher, rt, Manifest, f"ds/v1/devices/{device_id}/manifest")
        assert manifest.software_channel == "stable"
    untouched = [t for t, _, _ in publisher.sent if "sig-east-hall" in t]
    assert not untouched
    with pytest.raises(Invalid, match="lowercase letters"):
        releases.follow(session, rt, IT, group.id, "not a channel!")
    with pytest.raises(Invalid, match="no such device group"):
        releases.follow(session, rt, IT, "no-such-group", "stable")


def test_a_rollout_goes_to_pilots_then_the_rest_and_halts_on_a_failure(
    app, world, session, rt, publisher, clock, tmp_path
):
    screens = sorted(d for d in world.devices if d.startswith("sig-"))
    pilot, *others = screens
    group = groups.save(session, rt, ADMIN, name="Indoor", device_ids=screens)
    releases.follow(session, rt, IT, group.id, "stable")
    releases.upload(session, rt, IT, data=_wheel(tmp_path))
    with pytest.raises(Invalid, match="No such screen"):
        releases.offer(session, rt, IT, channel="stable", version="2.0.0", pilots=["nope"])
    releases.offer(session, rt, IT, channel="stable", version="2.0.0", pilots=[pilot])
    offered = _published(publisher, rt, Release, release_topic("stable"))
    assert offered.rollout.pilots == (pilot,) and offered.rollout.percent == 0
    assert offered.rollout.includes(pilot)
    assert not any(offered.rollout.includes(d) for d in others)

    fleet = parts(app).analytics.stores.fleet  # the real store the ingest files statuses in

    def reports(device_id, version, update=None):
        status = Status(
            device_id=device_id, kind=DeviceKind.SIGNAGE, state=DeviceState.ONLINE,
            software_version=version, at=clock.now(), update=update,
        )  # fmt: skip
        fleet.record_status(status, clock.now())

    for device_id in screens:
        reports(device_id, "1.0.0")
    [found] = releases.advance(session, rt, fleet)
    assert found.stage == "pilot" and found.waiting == (pilot,)

    clock.advance(timedelta(minutes=2))
    reports(
        pilot, "2.0.0", UpdateReport(version="2.0.0", state=UpdateState.INSTALLED, at=clock.now())
    )
    [found] = releases.advance(session, rt, fleet)
    assert found.stage == "rollout" and set(found.waiting) == set(others)
    widened = _published(publisher, rt, Release, release_topic("stable"))
    assert widened.rollout.percent == 100 and all(widened.rollout.includes(d) for d in screens)

    failed = UpdateReport(
        version="2.0.0",
        state=UpdateState.ROLLED_BACK,
        detail="not healthy in 120 s",
        at=clock.now(),
    )
    reports(others[0], "1.0.0", failed)
    [found] = releases.advance(session, rt, fleet)
    assert found.stage == "halted" and found.failed == ((others[0], "not healthy in 120 s"),)
    row = session.get(ReleaseChannel, "stable")
    assert row is not None and row.halted_reason == f"{others[0]}: not healthy in 120 s"
    halted = _published(publisher, rt, Release, release_topic("stable"))
    assert halted.rollout.halted and not any(halted.rollout.includes(d) for d in screens)


def test_raising_the_percentage_only_adds_devices():
    devices = [f"screen-{n}" for n in range(500)]
    included = [sum(1 for d in devices if rollout_bucket(d) < percent) for percent in range(101)]
    assert included == sorted(included) and included[0] == 0 and included[100] == 500
    assert 200 < included[50] < 300  # spread evenly enough that 50 % is about half


def test_the_rollout_watcher_moves_channels_on_once_per_lease(
    app, world, session, rt, clock, tmp_path
):
    screens = sorted(d for d in world.devices if d.startswith("sig-"))
    group = groups.save(session, rt, ADMIN, name="Indoor", device_ids=screens)
    releases.follow(session, rt, IT, group.id, "stable")
    releases.upload(session, rt, IT, data=_wheel(tmp_path))
    releases.offer(session, rt, IT, channel="stable", version="2.0.0", pilots=[screens[0]])
    session.commit()
    watcher = releases.RolloutWatcher(
        cms_db.database(app).sessions, rt, parts(app).analytics.stores.fleet
    )
    first = watcher.tick()
    assert first is not None and [p.stage for p in first] == ["pilot"]
    assert watcher.tick() is None  # its lease runs for two intervals
    clock.advance(watcher.interval * 2)
    again = watcher.tick()
    assert again is not None and [p.stage for p in again] == ["pilot"]
