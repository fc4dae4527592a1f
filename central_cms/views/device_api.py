"""What devices fetch and send over HTTP, with the device's bearer (asset) token: assets
by sha256, software release wheels, and portal nodes' newsletter sign-ups.

A device's token fetches only the assets its pending or current manifest names
(`ManifestState.asset_sha256s` and `previous_asset_sha256s`); any other hash is 404,
whether or not the blob exists, so a token cannot browse the media library.

ETag is the sha256 (content never changes under one), so If-None-Match gives 304;
Range requests give 206 (or 416 past the end) so a Pi resumes a large video.

The blueprint is exempt from the staff UI's CSRF check (csrf.py) because it is
authenticated by that token alone, never by a cookie.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Blueprint, Response, abort, jsonify, request, send_file
from sqlalchemy import select

from central_cms import db, newsletter
from central_cms import models as m
from central_cms.fleet import token_hash
from central_cms.release_models import SoftwareRelease
from central_cms.runtime import runtime

log = logging.getLogger(__name__)

bp = Blueprint("device_api", __name__, url_prefix="/device-api/v1")


def _token_device() -> m.Device | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return (
        db.session()
        .scalars(select(m.Device).where(m.Device.asset_token_hash == token_hash(token.strip())))
        .first()
    )


def _device_from_token() -> m.Device:
    device = _token_device()
    if device is None:
        abort(401)
    return device


def _json_error(status: int, message: str, **extra: Any) -> Response:
    response = jsonify({"message": message, "status": status, **extra})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="device-api"'
    return response


@bp.get("/assets/<sha256>")
def asset(sha256: str) -> Response:
    device = _device_from_token()
    state = db.session().get(m.ManifestState, device.id)
    named = state is not None and (
        sha256 in state.asset_sha256s or sha256 in state.previous_asset_sha256s
    )
    row = db.session().get(m.Blob, sha256) if named else None
    if row is None:
        if not named:
            log.info("asset %s refused to %s: not in its manifests", sha256[:12], device.id)
        abort(404, description="No such asset in this device's manifests.")
    response = send_file(
        runtime().blobs.path(sha256),
        mimetype=row.content_type,
        conditional=True,
        etag=sha256,
        max_age=365 * 24 * 3600,
    )
    response.headers["Accept-Ranges"] = "bytes"
    return response


@bp.get("/releases/<sha256>")
def release_wheel(sha256: str) -> Response:
    """A software release's wheel (issue 18), to any registered device: releases are our
    own code, not secret, but only the fleet needs them. Only a release's sha256 is served."""
    _device_from_token()
    known = (
        db.session()
        .scalars(select(SoftwareRelease.version).where(SoftwareRelease.wheel_sha256 == sha256))
        .first()
    )
    if known is None:
        abort(404, description="No such release.")
    return send_file(
        runtime().blobs.path(sha256),
        mimetype="application/zip",
        conditional=True,
        etag=sha256,
        max_age=365 * 24 * 3600,
    )


@bp.post("/newsletter-signups")
def newsletter_signup() -> Response:
    """A portal node forwards one consented sign-up (portal/node.py NewsletterForwarder):
    201 when stored, 200 when that address was already signed up at the site (a retry).
    Anything else is a JSON error with `message`; 422 also names each bad field."""
    device = _token_device()
    if device is None:
        return _json_error(401, "Send the device's asset token: Authorization: Bearer <token>.")
    if request.mimetype != "application/json":
        return _json_error(415, "Send the sign-up as application/json.")
    if (request.content_length or 0) > newsletter.MAX_BODY_BYTES:
        return _json_error(413, f"A sign-up is at most {newsletter.MAX_BODY_BYTES} bytes.")
    # Read at most one byte past the limit, also for a body sent without Content-Length.
    data = request.stream.read(newsletter.MAX_BODY_BYTES + 1)
    if len(data) > newsletter.MAX_BODY_BYTES:
        return _json_error(413, f"A sign-up is at most {newsletter.MAX_BODY_BYTES} bytes.")
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return _json_error(400, "The body is not JSON.")
    rt = runtime()
    now = rt.clock.now()
    try:
        signup = newsletter.parse_signup(body, now=now)
    except newsletter.SignupInvalid as error:
        return _json_error(422, "The sign-up is not valid.", errors=error.problems)
    refusal = newsletter.device_refusal(device, signup.site_id)
    if refusal is not None:
        log.info("newsletter sign-up from %s refused: %s", device.id, refusal)
        return _json_error(403, refusal)
    try:
        stored = newsletter.store_signup(db.session(), device, signup, now)
    except newsletter.RateLimited as error:
        log.warning("newsletter sign-ups from %s rate-limited", device.id)
        response = _json_error(429, "Too many new sign-ups from this device; try again later.")
        response.headers["Retry-After"] = str(error.retry_after_s)
        return response
    response = jsonify({"id": stored.id, "created": stored.created})
    response.status_code = 201 if stored.created else 200
    response.headers["Cache-Control"] = "no-store"
    return response
