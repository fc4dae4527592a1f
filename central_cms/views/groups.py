"""Device groups: list, create and change (IT and administrators)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from central_cms import groups as service
from central_cms import models as m
from central_cms.auth import login_required, permission_required
from central_cms.errors import Invalid
from central_cms.playlist_models import DeviceGroup
from central_cms.policy import Permission
from central_cms.views.common import context, editing, flash_invalid

bp = Blueprint("groups", __name__, url_prefix="/groups")


def _page(group: DeviceGroup | None, chosen: set[str], name: str, errors: dict[str, str]) -> str:
    s, _, _ = context()
    return render_template(
        "groups.html",
        groups=s.scalars(select(DeviceGroup).order_by(DeviceGroup.name)).all(),
        devices=s.scalars(select(m.Device).order_by(m.Device.site_id, m.Device.name)).all(),
        group=group,
        chosen=chosen,
        name=name,
        field_errors=errors,
    )


@bp.get("/")
@login_required
def index() -> str:
    return _page(None, set(), "", {})


@bp.route("/new", methods=["POST"], defaults={"group_id": None})
@bp.route("/<group_id>", methods=["GET", "POST"])
@permission_required(Permission.DEVICE_WRITE)
def edit(group_id: str | None) -> str | Response | tuple[str, int]:
    s, rt, actor = context()
    group = editing(DeviceGroup, group_id)
    if request.method == "GET":
        assert group is not None
        return _page(group, {mb.device_id for mb in group.members}, group.name, {})
    chosen = request.form.getlist("devices")
    name = request.form.get("name", "")
    try:
        saved = service.save(s, rt, actor, name=name, device_ids=chosen, group_id=group_id)
    except Invalid as error:
        flash_invalid(error, shown_beside={error.message})
        return _page(group, set(chosen), name, {error.field: error.message}), 400
    s.commit()
    flash(f"Saved the group “{saved.name}” ({len(saved.members)} screens).", "ok")
    return redirect(url_for("groups.index"))
