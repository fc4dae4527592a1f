"""A small CSRF guard for the staff UI: a per-session token in every POST form.

The REST API and the device API are exempt: they take bearer tokens, never cookies.
"""

from __future__ import annotations

import secrets

from flask import Flask, abort, request, session

EXEMPT_BLUEPRINTS = {"api", "device_api"}
_FIELD = "csrf_token"


def csrf_token() -> str:
    token = session.get("_csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["_csrf"] = token
    return token


def init_csrf(app: Flask) -> None:
    app.jinja_env.globals["csrf_token"] = csrf_token

    @app.before_request
    def _check() -> None:
        if request.method in {"GET", "HEAD", "OPTIONS"}:
            return
        if request.routing_exception is not None:
            return  # no view will run: let the 404/405 through rather than a CSRF 400
        if request.blueprint in EXEMPT_BLUEPRINTS:
            return
        sent = request.form.get(_FIELD) or request.headers.get("X-CSRF-Token", "")
        expected = session.get("_csrf")
        if not isinstance(expected, str) or not secrets.compare_digest(sent, expected):
            abort(400, description="The form expired or came from elsewhere. Reload and try again.")
