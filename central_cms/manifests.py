"""Compile, sign and publish manifests for the devices an edit affects.

Versions only move forward and an unchanged manifest is not published again: one
atomic ``UPDATE ... RETURNING`` per device bumps the version only when the content
hash differs (or the manifest is due for renewal before it expires). On PostgreSQL
that UPDATE holds the row lock until commit, and we publish before committing, so two
CMS processes publish one device's manifests in version order and never reuse one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from central_cms import link_tracking, links, snapshot
from central_cms import models as m
from central_cms.compiler import CampaignIndex, DeviceSpec, ManifestCompiler, Targets
from central_cms.media import rendition
from central_cms.runtime import CmsRuntime
from devices.protocol import Channel, Fit, ItemKind, Manifest, device_topic, sign

log = logging.getLogger(__name__)


@dataclass
class SyncReport:
    published: dict[str, int] = field(default_factory=dict)  # device id -> version
    unchanged: list[str] = field(default_factory=list)


def devices_reached(session: Session, *targets: Targets) -> list[str]:
    """The ids of the devices any of `targets` reaches (what an edit must recompile)."""
    wanted = [t for t in targets if not t.empty]
    return [d.id for d in snapshot.load_devices(session) if any(t.matches(d) for t in wanted)]


def _claim_version(
    session: Session,
    device_id: str,
    content_hash: str,
    *,
    now: datetime,
    valid_until: datetime,
    renew_before: datetime,
) -> int | None:
    """The next version if the manifest changed (or needs renewing), else None."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(m.ManifestState)
        .values(device_id=device_id, version=0, content_hash="")
        .on_conflict_do_nothing(index_elements=["device_id"])
    )
    row = session.execute(
        update(m.ManifestState)
        .where(m.ManifestState.device_id == device_id)
        .where(
            or_(
                m.ManifestState.content_hash != content_hash,
                m.ManifestState.valid_until.is_(None),
                m.ManifestState.valid_until < renew_before,
            )
        )
        .values(
            version=m.ManifestState.version + 1,
            content_hash=content_hash,
            valid_until=valid_until,
            published_at=now,
        )
        .returning(m.ManifestState.version)
    ).first()
    return None if row is None else int(row[0])


def ensure_renditions(session: Session, rt: CmsRuntime, devices: Iterable[DeviceSpec]) -> None:
    """Make (once) each image of each published campaign for each targeted canvas: each
    targeted profile's, turned portrait for screens mounted on their side (issue 18)."""
    devices = list(devices)
    needed: set[tuple[int, str, str, str, bool]] = set()
    for campaign, zones in snapshot.playing(session):
        targets = snapshot.targets_of(campaign.targets)
        profiles = {(d.profile_id, d.turned) for d in devices if targets.matches(d)}
        for item in campaign.items:
            if item.kind == ItemKind.IMAGE and item.media_id is not None:
                needed |= {(item.media_id, p, item.fit, item.background, t) for p, t in profiles}
        # A playlist's pictures in the main zone (other zones get the original).
        for zone in zones:
            for listed in zone.playlist.items if zone.zone == "main" else ():
                if listed.kind == ItemKind.IMAGE and listed.media_id is not None:
                    needed |= {(listed.media_id, p, listed.fit, "#000000", t) for p, t in profiles}
    if needed:
        make_renditions(session, rt, needed)


def make_renditions(
    session: Session, rt: CmsRuntime, needed: set[tuple[int, str, str, str, bool]]
) -> None:
    """`needed`: (media, profile, fit, background, turned) of the renditions to have."""
    media_ids = {n[0] for n in needed}
    have = {
        (r.media_id, r.profile_id, r.fit, r.background, r.turned)
        for r in session.scalars(select(m.Rendition).where(m.Rendition.media_id.in_(media_ids)))
    }
    for media_id, profile_id, fit, background, turned in sorted(needed - have):
        media = session.get(m.MediaAsset, media_id)
        profile = session.get(m.ScreenProfile, profile_id)
        if media is None or profile is None or media.kind != "image":
            continue
        width, height = profile.width_px, profile.height_px
        if turned:
            width, height = height, width
        encoded = rendition(rt.blobs.read(media.sha256), width, height, Fit(fit), background)
        sha, _ = rt.blobs.put(encoded)
        if session.get(m.Blob, sha) is None:
            session.add(
                m.Blob(
                    sha256=sha,
                    content_type=encoded.content_type,
                    size_bytes=len(encoded.data),
                    created_at=rt.clock.now(),
                )
            )
        session.add(
            m.Rendition(
                media_id=media_id,
                profile_id=profile_id,
                fit=fit,
                background=background,
                width_px=width,
                height_px=height,
                sha256=sha,
                size_bytes=len(encoded.data),
            )
        )
    session.flush()


def sync_manifests(
    session: Session, rt: CmsRuntime, device_ids: Iterable[str] | None = None
) -> SyncReport:
    """Recompile the given devices (all when None); publish those that changed.
    Commits the session."""
    report = SyncReport()
    devices = snapshot.load_devices(session, None if device_ids is None else set(device_ids))
    if not devices:
        session.commit()
        return report
    now = rt.clock.now()
    horizon = timedelta(days=rt.config.manifest_horizon_days)
    valid_until = now + horizon
    ensure_renditions(session, rt, devices)
    compiler = ManifestCompiler(
        snapshot.load_catalogue(session, links.linker_for(rt.config)),
        CampaignIndex(snapshot.load_published(session, rt.config.public_url)),
    )
    outgoing: list[tuple[str, bytes]] = []
    issued: list[Manifest] = []  # their short links are stored before they go out
    for device in devices:
        compiled = compiler.compile(device, generated_at=now, valid_until=valid_until)
        version = _claim_version(
            session,
            device.id,
            compiled.content_hash,
            now=now,
            valid_until=valid_until,
            renew_before=now + horizon / 2,
        )
        if version is None:
            report.unchanged.append(device.id)
            continue
        payload = sign(compiled.with_version(version), rt.signing_key)
        session.execute(
            update(m.ManifestState)
            .where(m.ManifestState.device_id == device.id)
            .values(
                payload=payload,
                # What the device's asset token may fetch: this manifest's assets and
                # the last one's, which it may still be running (SET reads the old row).
                previous_asset_sha256s=m.ManifestState.asset_sha256s,
                asset_sha256s=sorted({a.sha256 for a in compiled.manifest.assets}),
            )
        )
        outgoing.append((device.id, payload))
        issued.append(compiled.manifest)
        report.published[device.id] = version
    link_tracking.issue(session, issued, now)
    for device_id, payload in outgoing:
        rt.publisher.publish(device_topic(device_id, Channel.MANIFEST), payload, retain=True)
    session.commit()
    if outgoing:
        log.info("published %d manifests (%d unchanged)", len(outgoing), len(report.unchanged))
    return report


def republish_all(session: Session, rt: CmsRuntime) -> int:
    """After a (re)connect: the latest manifest of every device, the live alerts, feeds
    and software releases."""
    count = 0
    for state in session.scalars(
        select(m.ManifestState).where(m.ManifestState.payload.is_not(None))
    ):
        assert state.payload is not None
        rt.publisher.publish(
            device_topic(state.device_id, Channel.MANIFEST), state.payload, retain=True
        )
        count += 1
    session.rollback()
    from central_cms import alerts

    count += alerts.republish(session, rt)
    from central_cms.feeds import publish as feeds

    count += feeds.republish(session, rt)
    from central_cms import releases

    count += releases.republish(session, rt)
    return count
