"""Users and API tokens (admins)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from central_cms import fleet
from central_cms import models as m
from central_cms.auth import permission_required
from central_cms.errors import Invalid
from central_cms.policy import Permission
from central_cms.views.common import context, flash_invalid

bp = Blueprint("users", __name__, url_prefix="/users")


@bp.get("/")
@permission_required(Permission.USER_WRITE)
def index() -> str:
    s, _, _ = context()
    users = s.scalars(select(m.User).order_by(m.User.username)).all()
    sites = s.scalars(select(m.Site).order_by(m.Site.name)).all()
    return render_template("users.html", users=users, sites=sites, roles=list(m.Role))


@bp.post("/")
@permission_required(Permission.USER_WRITE)
def create() -> Response:
    s, rt, actor = context()
    form = request.form
    try:
        role = m.Role(form.get("role", "viewer"))
        fleet.create_user(
            s,
            rt,
            actor,
            username=form.get("username", "").strip(),
            password=form.get("password", ""),
            role=role,
            display_name=form.get("display_name", ""),
            sites=form.getlist("sites"),
        )
        flash("User created.", "ok")
    except Invalid as error:
        flash_invalid(error)
    except ValueError:
        flash("Choose a role.", "error")
    return redirect(url_for("users.index"))
