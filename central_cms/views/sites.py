"""Sites: list, create and edit (admins)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from central_cms import fleet
from central_cms import models as m
from central_cms.auth import login_required, permission_required
from central_cms.errors import Invalid
from central_cms.policy import Permission
from central_cms.views.common import checkbox, context, flash_invalid

bp = Blueprint("sites", __name__, url_prefix="/sites")


@bp.get("/")
@login_required
def index() -> str:
    s, _, _ = context()
    sites = s.scalars(select(m.Site).order_by(m.Site.name)).all()
    return render_template("sites.html", sites=sites)


@bp.route("/new", methods=["GET", "POST"], defaults={"site_id": None})
@bp.route("/<site_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.SITE_WRITE)
def edit(site_id: str | None) -> str | Response | tuple[str, int]:
    s, rt, actor = context()
    site = s.get(m.Site, site_id) if site_id else None
    if site_id and site is None:
        abort(404)
    if request.method == "POST":
        form = request.form
        try:
            saved = fleet.save_site(
                s,
                rt,
                actor,
                site_id=site_id or form.get("id", "").strip(),
                name=form.get("name", ""),
                address=form.get("address", ""),
                timezone=form.get("timezone", "").strip(),
                requires_approval=checkbox(form.get("requires_approval")),
                allow_self_approval=checkbox(form.get("allow_self_approval")),
            )
            s.commit()
            flash(f"Saved {saved.name}.", "ok")
            return redirect(url_for("sites.index"))
        except Invalid as error:
            flash_invalid(error)
            return render_template("site_form.html", site=site, form=form), 400
    return render_template("site_form.html", site=site, form={})
