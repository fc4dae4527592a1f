"""What devices fetch over HTTP: assets by sha256, with the device's bearer token.

ETag is the sha256 (content never changes under one), so If-None-Match gives 304;
Range requests give 206 (or 416 past the end) so a Pi resumes a large video.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, request, send_file
from sqlalchemy import select

from central_cms import db
from central_cms import models as m
from central_cms.fleet import token_hash
from central_cms.runtime import runtime

bp = Blueprint("device_api", __name__, url_prefix="/device-api/v1")


def _device_from_token() -> m.Device:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        abort(401)
    device = (
        db.session()
        .scalars(select(m.Device).where(m.Device.asset_token_hash == token_hash(token.strip())))
        .first()
    )
    if device is None:
        abort(401)
    return device


@bp.get("/assets/<sha256>")
def asset(sha256: str) -> Response:
    _device_from_token()
    row = db.session().get(m.Blob, sha256)
    if row is None:
        abort(404)
    response = send_file(
        runtime().blobs.path(sha256),
        mimetype=row.content_type,
        conditional=True,
        etag=sha256,
        max_age=365 * 24 * 3600,
    )
    response.headers["Accept-Ranges"] = "bytes"
    return response
