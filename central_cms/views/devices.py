"""Devices: list, register (shows the device's config file once), edit, broker export."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from werkzeug.wrappers import Response

from central_cms import fleet
from central_cms import models as m
from central_cms.auth import login_required, permission_required
from central_cms.errors import Invalid
from central_cms.paging import page_of
from central_cms.policy import Permission
from central_cms.renewal import last_renewal
from central_cms.screen_setup import (
    DAY_NAMES,
    POWER_MODES,
    ROTATIONS,
    ScreenSetup,
    checked_setup,
    stored_setup,
)
from central_cms.views.common import context, flash_invalid, row_or_404
from devices.protocol import CommandName, DeviceKind, OpeningHours

# The screen-setup fields whose problems the form shows beside them.
SETUP_FIELDS = frozenset({"rotation_deg", "power_mode", "power_hours"})

bp = Blueprint("devices", __name__, url_prefix="/devices")


def _choices(
    device: m.Device | None = None, errors: dict[str, str] | None = None
) -> dict[str, object]:
    s, _, _ = context()
    setup = (
        stored_setup(device.rotation_deg, device.power_mode, device.power_hours)
        if device is not None
        else ScreenSetup()
    )
    return {
        "sites": s.scalars(select(m.Site).order_by(m.Site.name)).all(),
        "profiles": s.scalars(select(m.ScreenProfile).order_by(m.ScreenProfile.name)).all(),
        "kinds": list(DeviceKind),
        "commands": [c for c in CommandName if c is not CommandName.DEAUTHORISE],
        "rotations": ROTATIONS,
        "power_modes": POWER_MODES,
        "days": DAY_NAMES,
        "setup": setup,
        "own_hours": {h.day.value: h for h in setup.power_hours},
        "errors": errors or {},
    }


def _site_hours(site_id: str) -> tuple[OpeningHours, ...]:
    s, _, _ = context()
    site = s.get(m.Site, site_id)
    return tuple(OpeningHours.model_validate(h) for h in site.opening_hours) if site else ()


@bp.get("/")
@login_required
def index() -> str:
    s, rt, _ = context()
    page, rows = page_of(
        s,
        select(m.Device, m.ManifestState)
        .options(joinedload(m.Device.site), joinedload(m.Device.profile))
        .outerjoin(m.ManifestState, m.ManifestState.device_id == m.Device.id)
        .order_by(m.Device.site_id, m.Device.id),
        request.args,
    )
    return render_template(
        "devices.html",
        rows=rows,
        page=page,
        renewal=last_renewal(s),
        renewal_minutes=rt.config.manifest_renewal_minutes,
    )


@bp.route("/new", methods=["GET", "POST"])
@permission_required(Permission.DEVICE_WRITE)
def register() -> str | tuple[str, int]:
    s, rt, actor = context()
    if request.method == "POST":
        form = request.form
        try:
            registration = fleet.register_device(
                s,
                rt,
                actor,
                device_id=form.get("id", "").strip(),
                name=form.get("name", ""),
                kind=DeviceKind(form.get("kind", "signage")),
                site_id=form.get("site_id", ""),
                profile_id=form.get("profile_id", ""),
                tags=form.get("tags", "").split(","),
            )
            return render_template(
                "device_registered.html",
                device=registration.device,
                config_toml=registration.config_toml,
            )
        except (Invalid, ValueError) as error:
            if isinstance(error, Invalid):
                flash_invalid(error)
            else:
                flash("Choose signage or portal.", "error")
            return render_template("device_form.html", device=None, form=form, **_choices()), 400
    return render_template("device_form.html", device=None, form={}, **_choices())


@bp.route("/<device_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.DEVICE_WRITE)
def edit(device_id: str) -> str | Response | tuple[str, int]:
    s, rt, actor = context()
    device = row_or_404(m.Device, device_id)
    if request.method == "POST":
        form = request.form
        try:
            signage = device.kind == DeviceKind.SIGNAGE.value
            site_id = form.get("site_id", "")
            fleet.update_device(
                s,
                rt,
                actor,
                device_id,
                name=form.get("name", ""),
                site_id=site_id,
                profile_id=form.get("profile_id", ""),
                tags=form.get("tags", "").split(","),
                setup=checked_setup(form, _site_hours(site_id)) if signage else None,
            )
            flash(f"Saved {device_id}.", "ok")
            return redirect(url_for("devices.index"))
        except Invalid as error:
            beside = {error.field: error.message} if error.field in SETUP_FIELDS else {}
            flash_invalid(error, shown_beside=beside.values())
            page = render_template(
                "device_form.html", device=device, form=form, **_choices(device, beside)
            )
            return page, 400
    return render_template("device_form.html", device=device, form={}, **_choices(device))


@bp.post("/<device_id>/delete")
@permission_required(Permission.DEVICE_WRITE)
def delete(device_id: str) -> Response:
    s, rt, actor = context()
    fleet.delete_device(s, rt, actor, device_id)
    flash(f"Removed {device_id}; its retained manifest was cleared.", "ok")
    return redirect(url_for("devices.index"))


@bp.post("/<device_id>/command")
@permission_required(Permission.DEVICE_WRITE)
def command(device_id: str) -> Response:
    s, rt, actor = context()
    try:
        name = CommandName(request.form.get("name", ""))
    except ValueError:
        abort(400)
    fleet.send_command(s, rt, actor, device_id, name)
    flash(f"Sent “{name.value}” to {device_id}.", "ok")
    return redirect(url_for("devices.edit", device_id=device_id))


@bp.get("/broker/<which>")
@permission_required(Permission.FLEET_EXPORT)
def broker_file(which: str) -> Response:
    s, rt, _ = context()
    passwords, acl = fleet.broker_files(s, rt)
    if which not in {"passwords", "acl"}:
        abort(404)
    return Response(
        passwords if which == "passwords" else acl,
        mimetype="text/plain",
        headers={"Content-Disposition": f"attachment; filename=mosquitto.{which}"},
    )
