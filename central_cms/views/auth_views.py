"""Login and logout."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from central_cms import auth, db
from central_cms.runtime import runtime
from central_cms.views import sso_views

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    if request.method == "GET":
        return render_template("login.html", next=request.args.get("next", ""))
    rt = runtime()
    db_session = db.session()
    username = request.form.get("username", "").strip()[:100]
    password = request.form.get("password", "")
    address = request.remote_addr or "?"
    now = rt.clock.now()
    refusal = auth.login_refusal(
        db_session, username, address, now, rt.config.login_attempts_per_15min
    )
    if refusal is not None:
        flash(refusal, "error")
        return render_template("login.html", next=request.form.get("next", "")), 429
    user = auth.check_login(db_session, username, password)
    if user is None:
        auth.note_failure(db_session, username, address, now)
        flash("That user name and password do not match.", "error")
        return render_template("login.html", next=request.form.get("next", "")), 401
    session.clear()  # a fresh session on login: no fixation
    session["sid"] = auth.start_session(db_session, user, now)
    return redirect(auth.safe_next(request.form.get("next"), url_for("home.index")))


@bp.post("/logout")
def logout() -> Response:
    token = session.get("sid")
    via_sso = session.get("via_sso")
    if isinstance(token, str):
        auth.end_session(db.session(), token)  # a copy of the cookie is signed out too
    session.clear()
    # Signed in at the city's provider: sign out there too, so the next person at this
    # browser is not signed straight back in (issue 17).
    provider = sso_views.provider_sign_out_url() if via_sso else None
    return redirect(provider or url_for("auth.login"))
