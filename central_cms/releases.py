"""Software releases and their staged rollout to the fleet (issue 18).

IT uploads a release wheel; the CMS checks it is a `digital-spaces` wheel and keeps it as
a blob. Putting a release on a channel publishes a signed ``ds.release/1`` (retained, on
``ds/v1/releases/{channel}``) offered first to the named pilot screens. The rollout
watcher (`RolloutWatcher`, one lease across CMS processes) reads what devices report in
their retained status and moves the channel on: when every pilot runs the release it is
offered to `percent` of the channel's other screens; when any screen reports that the
release failed or rolled back, the channel is halted and nobody new takes it.
"""

from __future__ import annotations

import email.parser
import io
import logging
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from central_cms import audit
from central_cms import models as m
from central_cms.analytics.model import DeviceSnapshot
from central_cms.analytics.ports import FleetStore
from central_cms.errors import Conflict, Invalid
from central_cms.leases import SessionJob, take_lease
from central_cms.manifests import sync_manifests
from central_cms.media import Encoded
from central_cms.playlist_models import DeviceGroup, DeviceGroupMember
from central_cms.policy import Actor, Permission, require
from central_cms.release_models import GroupChannel, ReleaseChannel, SoftwareRelease
from central_cms.runtime import CmsRuntime
from central_cms.snapshot import load_devices
from devices.protocol import ProtocolError, sign, validate_id
from devices.protocol.manifest import AssetRef
from devices.protocol.releases import VERSION_PATTERN, Release, Rollout, UpdateState
from devices.protocol.topics import release_topic

log = logging.getLogger(__name__)

WHEEL_TYPE = "application/zip"  # a wheel is a zip; devices check it by sha256
MAX_WHEEL_BYTES = 64 * 1024 * 1024
JOB = "release-rollout"
TICK = timedelta(seconds=30)
_FAILED = {UpdateState.FAILED, UpdateState.ROLLED_BACK}


def release_url(public_url: str, sha256: str) -> str:
    return f"{public_url}/device-api/v1/releases/{sha256}"


# --- uploading a release ------------------------------------------------------------------


def wheel_version(data: bytes) -> str:
    """The version a `digital-spaces` wheel declares, or Invalid saying what is wrong."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = archive.namelist()
    except zipfile.BadZipFile:
        raise Invalid("wheel", "This is not a wheel (.whl): it is not even a zip file.") from None
    metadata = [n for n in names if re.fullmatch(r"digital_spaces-[^/]+\.dist-info/METADATA", n)]
    if len(metadata) != 1:
        raise Invalid("wheel", "This is not a digital-spaces wheel: build it with `pip wheel .`.")
    fields = email.parser.Parser().parsestr(archive.read(metadata[0]).decode("utf-8", "replace"))
    version = (fields.get("Version") or "").strip()
    if fields.get("Name", "").strip().lower().replace("_", "-") != "digital-spaces":
        raise Invalid("wheel", "This wheel is not the digital-spaces package.")
    if not re.fullmatch(VERSION_PATTERN, version):
        raise Invalid("wheel", f"Version {version!r} is not a release version such as 1.4.0.")
    return version


def upload(
    session: Session, rt: CmsRuntime, actor: Actor, *, data: bytes, notes: str = ""
) -> SoftwareRelease:
    require(actor, Permission.SOFTWARE_RELEASE)
    if len(data) > MAX_WHEEL_BYTES:
        raise Invalid("wheel", f"A release wheel is at most {MAX_WHEEL_BYTES // 2**20} MB.")
    version = wheel_version(data)
    if session.get(SoftwareRelease, version) is not None:
        raise Conflict("wheel", f"Release {version} is uploaded already; raise the version.")
    encoded = Encoded(data, WHEEL_TYPE)
    sha, _ = rt.blobs.put(encoded)
    now = rt.clock.now()
    if session.get(m.Blob, sha) is None:
        session.add(
            m.Blob(sha256=sha, content_type=WHEEL_TYPE, size_bytes=len(data), created_at=now)
        )
    release = SoftwareRelease(
        version=version,
        wheel_sha256=sha,
        size_bytes=len(data),
        notes=notes.strip()[:200],
        uploaded_at=now,
        uploaded_by=actor.username,
    )
    session.add(release)
    audit.record(session, actor, "release.upload", "software_release", version, now, sha256=sha)
    session.commit()
    return release


# --- channels -----------------------------------------------------------------------------


def follow(
    session: Session, rt: CmsRuntime, actor: Actor, group_id: str, channel: str | None
) -> None:
    """Make a device group follow `channel` (None: updated by hand); its screens' next
    manifests name the channel."""
    require(actor, Permission.SOFTWARE_RELEASE)
    if session.get(DeviceGroup, group_id) is None:
        raise Invalid("group_id", "There is no such device group; reload the page.")
    row = session.get(GroupChannel, group_id)
    if channel is None:
        if row is not None:
            session.delete(row)
    else:
        channel = _channel_name(channel)
        if row is None:
            session.add(GroupChannel(group_id=group_id, channel=channel))
        else:
            row.channel = channel
    audit.record(
        session, actor, "group.channel", "device_group", group_id, rt.clock.now(), channel=channel
    )
    session.flush()
    members = select(DeviceGroupMember.device_id).where(DeviceGroupMember.group_id == group_id)
    sync_manifests(session, rt, list(session.scalars(members)))


def _channel_name(channel: str) -> str:
    try:
        return validate_id(channel.strip().lower(), "channel")
    except ProtocolError:
        raise Invalid(
            "channel", "Name the channel with lowercase letters, digits and '-'."
        ) from None


def offer(
    session: Session,
    rt: CmsRuntime,
    actor: Actor,
    *,
    channel: str,
    version: str,
    pilots: Sequence[str],
    percent: int = 100,
) -> ReleaseChannel:
    """Put `version` on `channel`: offered to the pilots now, to `percent` of the rest
    once every pilot runs it healthy."""
    require(actor, Permission.SOFTWARE_RELEASE)
    channel = _channel_name(channel)
    if session.get(SoftwareRelease, version) is None:
        raise Invalid("version", f"There is no release {version}; upload it first.")
    if not 0 <= percent <= 100:
        raise Invalid("percent", "Give a percentage from 0 to 100.")
    known = set(session.scalars(select(m.Device.id).where(m.Device.id.in_(list(pilots)))))
    unknown = sorted(set(pilots) - known)
    if unknown:
        raise Invalid("pilots", f"No such screen: {', '.join(unknown)}.")
    now = rt.clock.now()
    row = session.get(ReleaseChannel, channel)
    if row is None:
        row = ReleaseChannel(name=channel, published_at=now)
        session.add(row)
    row.release_version = version
    row.pilots = sorted(set(pilots))
    row.percent = percent
    row.stage = "pilot" if pilots else "rollout"
    row.halted_reason = None
    row.published_at = row.updated_at = now
    audit.record(
        session, actor, "release.offer", "release_channel", channel, now,
        version=version, pilots=row.pilots, percent=percent,
    )  # fmt: skip
    session.flush()
    publish(session, rt, row)
    session.commit()
    return row


def release_message(session: Session, rt: CmsRuntime, row: ReleaseChannel) -> Release:
    release = session.get(SoftwareRelease, row.release_version)
    assert release is not None
    return Release(
        channel=row.name,
        version=release.version,
        wheel=AssetRef(
            sha256=release.wheel_sha256,
            url=release_url(rt.config.public_url, release.wheel_sha256),
            size_bytes=release.size_bytes,
            content_type=WHEEL_TYPE,
        ),
        published_at=row.updated_at,
        rollout=rollout_of(row),
        notes=release.notes,
    )


def publish(session: Session, rt: CmsRuntime, row: ReleaseChannel) -> None:
    payload = sign(release_message(session, rt, row), rt.signing_key)
    rt.publisher.publish(release_topic(row.name), payload, retain=True)


def republish(session: Session, rt: CmsRuntime) -> int:
    """On (re)connect: every channel's release, as the broker may have lost them."""
    rows = session.scalars(select(ReleaseChannel)).all()
    for row in rows:
        publish(session, rt, row)
    return len(rows)


# --- the rollout, moved on by what devices report -----------------------------------------


@dataclass(frozen=True)
class Progress:
    """Where one channel's release stands on the screens that follow the channel."""

    channel: str
    version: str
    stage: str
    running: tuple[str, ...]  # devices that report running the release
    waiting: tuple[str, ...]  # offered it, not running it yet
    failed: tuple[tuple[str, str], ...]  # (device, why)
    not_offered: tuple[str, ...]


def progress(
    row: ReleaseChannel, followers: Iterable[str], snapshots: dict[str, DeviceSnapshot]
) -> Progress:
    offered = rollout_of(row)
    running, waiting, failed, not_offered = [], [], [], []
    for device_id in sorted(followers):
        status = snapshots[device_id].status if device_id in snapshots else None
        update = status.update if status is not None else None
        if status is not None and status.software_version == row.release_version:
            running.append(device_id)
        elif (
            update is not None and update.version == row.release_version and update.state in _FAILED
        ):
            failed.append((device_id, update.detail or update.state.value))
        elif offered.includes(device_id):
            waiting.append(device_id)
        else:
            not_offered.append(device_id)
    return Progress(
        row.name, row.release_version, row.stage,
        tuple(running), tuple(waiting), tuple(failed), tuple(not_offered),
    )  # fmt: skip


def rollout_of(row: ReleaseChannel) -> Rollout:
    return Rollout(
        pilots=tuple(row.pilots),
        percent=row.percent if row.stage == "rollout" else 0,
        halted=row.stage == "halted",
    )


def next_stage(row: ReleaseChannel, found: Progress) -> tuple[str, str | None] | None:
    """The stage the channel should move to (and why, if halted), or None to stay."""
    if row.stage == "halted":
        return None
    if found.failed:
        device, why = found.failed[0]
        return "halted", f"{device}: {why}"
    if row.stage == "pilot" and set(row.pilots) <= set(found.running):
        return "rollout", None
    return None


def followers_by_channel(session: Session) -> dict[str, list[str]]:
    """Channel -> the devices that follow it (through their groups), read once."""
    found: dict[str, list[str]] = {}
    for device in load_devices(session):
        if device.software_channel is not None:
            found.setdefault(device.software_channel, []).append(device.id)
    return found


def followers(session: Session, channel: str) -> list[str]:
    return followers_by_channel(session).get(channel, [])


def advance(session: Session, rt: CmsRuntime, fleet: FleetStore) -> list[Progress]:
    """One round for every channel: halt or widen its rollout, republishing what changed."""
    rows = session.scalars(select(ReleaseChannel).order_by(ReleaseChannel.name)).all()
    if not rows:
        return []  # nothing to roll out: no need to read the fleet
    snapshots = {s.device_id: s for s in fleet.fleet()}
    following = followers_by_channel(session)
    found_all = []
    for row in rows:
        found = progress(row, following.get(row.name, []), snapshots)
        change = next_stage(row, found)
        if change is not None:
            row.stage, row.halted_reason = change
            row.updated_at = rt.clock.now()
            log.warning("channel %s: release %s now %s %s", row.name, row.release_version, *change)
            publish(session, rt, row)
            found = progress(row, following.get(row.name, []), snapshots)
        found_all.append(found)
    session.commit()
    return found_all


class RolloutWatcher(SessionJob[list[Progress] | None]):
    thread_name = "cms-rollouts"

    def __init__(
        self,
        sessions: sessionmaker[Session],
        rt: CmsRuntime,
        fleet: FleetStore,
        every: timedelta = TICK,
    ) -> None:
        super().__init__(sessions, rt, every)
        self._fleet = fleet

    def run(self, session: Session) -> list[Progress] | None:
        if not take_lease(session, JOB, self.holder, self._rt.clock.now(), self.interval * 2):
            return None
        return advance(session, self._rt, self._fleet)
