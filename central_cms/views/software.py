"""Software releases for IT (issue 18): upload a wheel, put it on a channel with its
pilot screens, choose which device groups follow which channel, and watch the rollout."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from central_cms import models as m
from central_cms import releases as service
from central_cms.auth import permission_required
from central_cms.errors import Invalid
from central_cms.playlist_models import DeviceGroup
from central_cms.policy import Actor, Permission
from central_cms.release_models import GroupChannel, ReleaseChannel, SoftwareRelease
from central_cms.runtime import CmsRuntime, parts
from central_cms.views.common import context, flash_invalid

bp = Blueprint("software", __name__, url_prefix="/software")


@bp.get("/")
@permission_required(Permission.SOFTWARE_RELEASE)
def index() -> str:
    s, _, _ = context()
    snapshots = {snap.device_id: snap for snap in parts().analytics.stores.fleet.fleet()}
    channels = s.scalars(select(ReleaseChannel).order_by(ReleaseChannel.name)).all()
    following = service.followers_by_channel(s)
    return render_template(
        "software.html",
        releases=s.scalars(
            select(SoftwareRelease).order_by(SoftwareRelease.uploaded_at.desc())
        ).all(),
        channels=[
            (row, service.progress(row, following.get(row.name, []), snapshots)) for row in channels
        ],
        groups=s.scalars(select(DeviceGroup).order_by(DeviceGroup.name)).all(),
        following={row.group_id: row.channel for row in s.scalars(select(GroupChannel))},
        devices=s.scalars(select(m.Device).order_by(m.Device.id)).all(),
    )


FormAction = Callable[[Session, CmsRuntime, Actor], str]


def _form(rule: str) -> Callable[[FormAction], Callable[[], Response]]:
    """POST `rule` for IT: run the action, flash what it did (the text it returns) or why
    it could not, and go back to the page. The endpoint is named after the action."""

    def register(action: FormAction) -> Callable[[], Response]:
        @permission_required(Permission.SOFTWARE_RELEASE)
        def view() -> Response:
            s, rt, actor = context()
            try:
                done = action(s, rt, actor)
            except Invalid as error:
                flash_invalid(error)
            else:
                flash(done, "ok")
            return redirect(url_for("software.index"), 303)

        bp.add_url_rule(rule, action.__name__, view, methods=["POST"])
        return view

    return register


@_form("/releases")
def upload(s: Session, rt: CmsRuntime, actor: Actor) -> str:
    file = request.files.get("wheel")
    if file is None or not file.filename:
        raise Invalid("wheel", "Choose the release's .whl file.")
    release = service.upload(s, rt, actor, data=file.read(), notes=request.form.get("notes", ""))
    return f"Uploaded release {release.version}. Put it on a channel to roll it out."


@_form("/channels")
def offer(s: Session, rt: CmsRuntime, actor: Actor) -> str:
    percent_text = request.form.get("percent", "100").strip() or "100"
    if not percent_text.isdigit():
        raise Invalid("percent", "Give the percentage as a whole number from 0 to 100.")
    row = service.offer(
        s,
        rt,
        actor,
        channel=request.form.get("channel", ""),
        version=request.form.get("version", ""),
        pilots=request.form.getlist("pilots"),
        percent=int(percent_text),
    )
    first = ", ".join(row.pilots) or f"{row.percent}% of the screens"
    return f"Release {row.release_version} is on “{row.name}”: first {first}."


@_form("/groups")
def follow(s: Session, rt: CmsRuntime, actor: Actor) -> str:
    group = s.get(DeviceGroup, request.form.get("group_id", ""))
    channel = request.form.get("channel", "").strip() or None
    if group is None:
        raise Invalid("group_id", "Choose a device group.")
    service.follow(s, rt, actor, group.id, channel)
    s.commit()
    follows = f"channel “{channel}”" if channel else "no channel"
    return f"“{group.name}” now follows {follows}."
