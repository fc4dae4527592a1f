"""/releases, /channels and /groups/{id}/channel: software releases and their staged
rollout (issue 18), for IT and admins only, as on the Software page: upload a wheel, offer
a release on a channel (pilots first, then a percentage), watch a channel's progress and
choose which device group follows which channel."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from central_cms import db
from central_cms import releases as service
from central_cms.api.blueprint import actor, all_of, api, operation, row_or_404
from central_cms.api.schemas_parity import (
    ChannelOut,
    FollowIn,
    FollowOut,
    OfferIn,
    ReleaseIn,
    ReleaseOut,
)
from central_cms.playlist_models import DeviceGroup
from central_cms.policy import Permission, require
from central_cms.release_models import GroupChannel, ReleaseChannel, SoftwareRelease
from central_cms.runtime import parts, runtime


def _it() -> None:
    require(actor(), Permission.SOFTWARE_RELEASE)


def release_json(release: SoftwareRelease) -> dict[str, Any]:
    return {
        "version": release.version,
        "wheel_sha256": release.wheel_sha256,
        "size_bytes": release.size_bytes,
        "notes": release.notes,
        "uploaded_at": release.uploaded_at.isoformat(),
        "uploaded_by": release.uploaded_by,
    }


def channel_json(row: ReleaseChannel) -> dict[str, Any]:
    session = db.session()
    snapshots = {s.device_id: s for s in parts().analytics.stores.fleet.fleet()}
    found = service.progress(row, service.followers(session, row.name), snapshots)
    return {
        "name": row.name,
        "version": row.release_version,
        "stage": row.stage,
        "pilots": list(row.pilots),
        "percent": row.percent,
        "halted_reason": row.halted_reason,
        "published_at": row.published_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
        "running": list(found.running),
        "waiting": list(found.waiting),
        "failed": [{"device_id": device, "why": why} for device, why in found.failed],
        "not_offered": list(found.not_offered),
    }


@operation("GET", "/releases")
@api.output(ReleaseOut(many=True))
def list_releases() -> Any:
    _it()
    query = select(SoftwareRelease).order_by(SoftwareRelease.uploaded_at.desc())
    return [release_json(r) for r in all_of(query)]


@operation("POST", "/releases", errors=(409, 413, 422))
@api.input(ReleaseIn, location="form_and_files", arg_name="data")
@api.output(ReleaseOut, status_code=201)
def upload_release(data: dict[str, Any]) -> Any:
    """Upload a `digital-spaces` wheel; its version is the one the wheel declares."""
    release = service.upload(
        db.session(), runtime(), actor(), data=data["wheel"].read(), notes=data["notes"]
    )
    return release_json(release)


@operation("GET", "/channels")
@api.output(ChannelOut(many=True))
def list_channels() -> Any:
    _it()
    rows = all_of(select(ReleaseChannel).order_by(ReleaseChannel.name))
    return [channel_json(row) for row in rows]


def _channel(name: str) -> ReleaseChannel:
    return row_or_404(ReleaseChannel, name, f"channel {name}")


@operation("GET", "/channels/<channel>", errors=(404,))
@api.output(ChannelOut)
def get_channel(channel: str) -> Any:
    """What the channel offers and how far its rollout has gone, screen by screen."""
    _it()
    return channel_json(_channel(channel))


@operation("PUT", "/channels/<channel>", errors=(400, 404, 422))
@api.input(OfferIn, arg_name="data")
@api.output(ChannelOut)
def offer_release(channel: str, data: dict[str, Any]) -> Any:
    """Offer a release on the channel (made if new): to the pilots now, to `percent` of
    the channel's other screens once every pilot runs it. Replaces what it offered."""
    row = service.offer(
        db.session(),
        runtime(),
        actor(),
        channel=channel,
        version=data["version"],
        pilots=data["pilots"],
        percent=data["percent"],
    )
    return channel_json(row)


@operation("PUT", "/groups/<group_id>/channel", errors=(400, 404, 422))
@api.input(FollowIn, arg_name="data")
@api.output(FollowOut)
def follow_channel(group_id: str, data: dict[str, Any]) -> Any:
    """Make the group's screens follow a channel (null: none); their manifests say so."""
    _it()
    session = db.session()
    group = row_or_404(DeviceGroup, group_id, f"group {group_id}")
    service.follow(session, runtime(), actor(), group.id, data["channel"])
    session.commit()
    following = session.get(GroupChannel, group.id)
    return {"group_id": group.id, "channel": following.channel if following else None}
