"""Device groups: named sets of screens staff target together ("Foyer screens")."""

from __future__ import annotations

import re
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from central_cms import audit
from central_cms import models as m
from central_cms.errors import Conflict, Invalid
from central_cms.manifests import sync_manifests
from central_cms.playlist_models import DeviceGroup, DeviceGroupMember
from central_cms.policy import Actor, Permission, require
from central_cms.runtime import CmsRuntime


def save(
    session: Session,
    rt: CmsRuntime,
    actor: Actor,
    *,
    name: str,
    device_ids: list[str],
    group_id: str | None = None,
) -> DeviceGroup:
    """Create or change a group; the screens that join or leave it get new manifests."""
    require(actor, Permission.DEVICE_WRITE)
    name = name.strip()[:200]
    if not name:
        raise Invalid("name", "Give the group a name.")
    clash = session.scalars(select(DeviceGroup).where(DeviceGroup.name == name)).first()
    if clash is not None and clash.id != group_id:
        raise Conflict("name", f"There is already a group called “{name}”.")
    known = set(session.scalars(select(m.Device.id).where(m.Device.id.in_(device_ids))))
    if set(device_ids) - known:
        raise Conflict("devices", "Some of the screens chosen no longer exist; reload the page.")
    group = session.get(DeviceGroup, group_id) if group_id else None
    before: set[str] = set()
    if group is None:
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40].strip("-")
        group = DeviceGroup(id=f"{slug or 'group'}-{secrets.token_hex(3)}")
        session.add(group)
    else:
        before = {member.device_id for member in group.members}
    group.name = name
    group.updated_at = rt.clock.now()
    group.members = [DeviceGroupMember(device_id=d) for d in sorted(known)]
    audit.record(session, actor, "group.save", "device_group", group.id, rt.clock.now(), name=name)
    session.flush()
    sync_manifests(session, rt, before ^ known)
    return group
