"""Login and logout."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from central_cms import auth, db
from central_cms.runtime import runtime

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("home.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    if request.method == "GET":
        return render_template("login.html", next=request.args.get("next", ""))
    rt = runtime()
    db_session = db.session()
    username = request.form.get("username", "").strip()[:100]
    password = request.form.get("password", "")
    keys = [f"user:{username.lower()}", f"ip:{request.remote_addr}"]
    now = rt.clock.now()
    if auth.too_many_attempts(db_session, keys, now, rt.config.login_attempts_per_15min):
        flash("Too many failed attempts. Wait 15 minutes and try again.", "error")
        return render_template("login.html", next=request.form.get("next", "")), 429
    user = auth.check_login(db_session, username, password)
    if user is None:
        auth.note_failure(db_session, keys, now)
        flash("That user name and password do not match.", "error")
        return render_template("login.html", next=request.form.get("next", "")), 401
    session.clear()  # a fresh session on login: no fixation
    session["uid"] = user.id
    session["pw"] = user.password_hash[-16:]
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/logout")
def logout() -> Response:
    session.clear()
    return redirect(url_for("auth.login"))
