"""Sign-in through the city's OpenID provider (issue 17); the protocol is in central_cms/sso.py."""

from __future__ import annotations

import logging

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response

from central_cms import auth, db, sso
from central_cms.runtime import runtime
from central_cms.sso_settings import SsoSettings

bp = Blueprint("sso", __name__, url_prefix="/sso")
log = logging.getLogger(__name__)
# Failed single sign-ons count against the address like failed passwords do.
_SSO_USERNAME = "(single sign-on)"
_LOCAL_HINT = "Use your local CMS account below, or try again later."


@bp.app_context_processor
def _login_page() -> dict[str, object]:
    settings: SsoSettings = runtime().config.sso
    return {"sso": settings if settings.enabled else None}


def _settings() -> SsoSettings:
    settings: SsoSettings = runtime().config.sso
    if not settings.enabled:
        abort(404)
    return settings


def _to_local_sign_in(message: str) -> Response:
    flash(message, "error")
    return redirect(url_for("auth.login", local=1, next=session.get("sso_next", "")))


def _refusal() -> str | None:
    rt = runtime()
    return auth.login_refusal(
        db.session(),
        _SSO_USERNAME,
        request.remote_addr or "?",
        rt.clock.now(),
        rt.config.login_attempts_per_15min,
    )


@bp.get("/start")
def start() -> Response:
    settings = _settings()
    refusal = _refusal()
    if refusal is not None:
        return _to_local_sign_in(refusal)
    session["sso_next"] = auth.safe_next(request.args.get("next"), url_for("home.index"))
    try:
        sso.refresh_metadata(current_app, settings)
    except sso.ProviderUnavailable as error:
        log.warning("single sign-on provider %s unavailable: %s", settings.issuer, error)
        return _to_local_sign_in(f"The city sign-in service cannot be reached. {_LOCAL_HINT}")
    redirect_uri = runtime().config.public_url + sso.CALLBACK_PATH
    response: Response = sso.client(current_app).authorize_redirect(redirect_uri)
    return response


@bp.get("/callback")
def callback() -> Response | tuple[str, int]:
    settings = _settings()
    refusal = _refusal()
    if refusal is not None:
        return _to_local_sign_in(refusal)
    rt = runtime()
    db_session = db.session()
    try:
        token = sso.client(current_app).authorize_access_token(
            claims_options=sso.claims_options(settings)
        )
        claims = token.get("userinfo")
        if not claims:
            raise ValueError("no ID token in the answer")
    except sso.PROVIDER_ERRORS as error:
        log.warning("single sign-on failed: %s", error)
        auth.note_failure(db_session, _SSO_USERNAME, request.remote_addr or "?", rt.clock.now())
        return _to_local_sign_in(f"Signing in with your city account did not work. {_LOCAL_HINT}")
    try:
        user = sso.sign_in(db_session, rt, settings, claims)
    except sso.SignInRefused as refused:
        session.clear()
        return render_template("sso_refused.html", reason=refused.reason), 403
    target = auth.safe_next(session.get("sso_next"), url_for("home.index"))
    session.clear()  # a fresh session on sign-in: no fixation
    session["sid"] = auth.start_session(db_session, user, rt.clock.now())
    session["via_sso"] = True
    return redirect(target)


def provider_sign_out_url() -> str | None:
    """Where to send a browser signing out of an SSO session: the provider's
    end_session_endpoint (RP-initiated logout), coming back to our sign-in page."""
    settings: SsoSettings = runtime().config.sso
    if not settings.enabled:
        return None
    return sso.end_session_url(
        current_app, settings, runtime().config.public_url + url_for("auth.login")
    )
