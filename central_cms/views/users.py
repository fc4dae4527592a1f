"""Users and API tokens (admins)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from central_cms import db, fleet
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


def _username(user_id: int) -> str:
    user = db.session().get(m.User, user_id)
    if user is None:
        abort(404)
    return user.username


def _role_and_sites() -> tuple[m.Role, list[str]]:
    return m.Role(request.form.get("role", "")), request.form.getlist("sites")


@bp.post("/<int:user_id>/role")
@permission_required(Permission.USER_WRITE)
def change_role(user_id: int) -> Response:
    s, rt, actor = context()
    username = _username(user_id)
    try:
        role, sites = _role_and_sites()
        fleet.change_role(s, rt, actor, username, role, sites)
        flash(f"{username} is now {role.value}; they sign in again to continue.", "ok")
    except ValueError:
        flash("Choose a role.", "error")
    return redirect(url_for("users.index"))


@bp.post("/password")
@permission_required(Permission.USER_WRITE)
def set_password() -> Response:
    s, rt, actor = context()
    username = _username(request.form.get("user_id", type=int) or 0)
    try:
        fleet.set_password(s, rt, actor, username, request.form.get("password", ""))
        flash(f"New password set for {username}; all their sessions have ended.", "ok")
    except Invalid as error:
        flash_invalid(error)
    return redirect(url_for("users.index"))


@bp.post("/<int:user_id>/sign-out")
@permission_required(Permission.USER_WRITE)
def sign_out_everywhere(user_id: int) -> Response:
    s, rt, actor = context()
    username = _username(user_id)
    ended = fleet.sign_out_everywhere(s, rt, actor, username)
    sessions = "1 session" if ended == 1 else f"{ended} sessions"
    flash(f"Signed {username} out everywhere ({sessions} ended).", "ok")
    return redirect(url_for("users.index"))
