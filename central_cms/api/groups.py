"""/groups: named sets of screens staff target together ("Foyer screens")."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from central_cms import db
from central_cms import groups as group_service
from central_cms.api.blueprint import actor, all_of, api, operation, row_or_404
from central_cms.api.schemas import GroupIn, GroupOut
from central_cms.api.spec import links
from central_cms.playlist_models import DeviceGroup
from central_cms.runtime import runtime

GROUP_STEPS = {"get": "get /groups/{group_id}", "update": "put /groups/{group_id}"}


def group_json(group: DeviceGroup) -> dict[str, Any]:
    return {
        "id": group.id,
        "name": group.name,
        "device_ids": [member.device_id for member in group.members],
        "updated_at": group.updated_at.isoformat(),
    }


@operation("GET", "/groups")
@api.output(GroupOut(many=True))
def list_groups() -> Any:
    return [group_json(g) for g in all_of(select(DeviceGroup).order_by(DeviceGroup.name))]


@operation("POST", "/groups", errors=(400, 409, 422))
@api.input(GroupIn, arg_name="data")
@api.output(GroupOut, status_code=201, links=links("group_id", GROUP_STEPS))
def create_group(data: dict[str, Any]) -> Any:
    session = db.session()
    group = group_service.save(
        session, runtime(), actor(), name=data["name"], device_ids=data["device_ids"]
    )
    session.commit()
    return group_json(group)


def _group(group_id: str) -> DeviceGroup:
    return row_or_404(DeviceGroup, group_id, f"group {group_id}")


@operation("GET", "/groups/<group_id>", errors=(404,))
@api.output(GroupOut)
def get_group(group_id: str) -> Any:
    return group_json(_group(group_id))


@operation("PUT", "/groups/<group_id>", errors=(400, 404, 409, 422))
@api.input(GroupIn, arg_name="data")
@api.output(GroupOut)
def update_group(group_id: str, data: dict[str, Any]) -> Any:
    """Rename a group or change its screens; those that join or leave get new manifests."""
    session = db.session()
    group = group_service.save(
        session,
        runtime(),
        actor(),
        name=data["name"],
        device_ids=data["device_ids"],
        group_id=_group(group_id).id,
    )
    session.commit()
    return group_json(group)
