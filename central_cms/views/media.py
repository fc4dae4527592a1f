"""The media library: upload (with a progress bar when JavaScript runs) and browse."""

from __future__ import annotations

from flask import (
    Blueprint,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from sqlalchemy import select
from werkzeug.wrappers import Response

from central_cms import library
from central_cms import models as m
from central_cms.auth import login_required, permission_required
from central_cms.errors import Invalid
from central_cms.policy import Permission
from central_cms.views.common import context, flash_invalid, row_or_404

bp = Blueprint("media", __name__, url_prefix="/media")


@bp.get("/")
@login_required
def index() -> str:
    s, _, _ = context()
    assets = s.scalars(select(m.MediaAsset).order_by(m.MediaAsset.created_at.desc())).all()
    sites = s.scalars(select(m.Site).order_by(m.Site.name)).all()
    return render_template("media.html", assets=assets, sites=sites)


@bp.post("/upload")
@permission_required(Permission.MEDIA_WRITE)
def upload() -> Response | tuple[Response, int]:
    s, rt, actor = context()
    wants_json = request.headers.get("X-Requested-With") == "XMLHttpRequest"
    file = request.files.get("file")
    try:
        if file is None or not file.filename:
            raise Invalid("file", "Choose a file to upload.")
        asset = library.upload(
            s,
            rt,
            actor,
            filename=file.filename,
            data=file.read(),
            title=request.form.get("title", ""),
            site_id=request.form.get("site_id") or None,
        )
    except Invalid as error:
        flash_invalid(error) if not wants_json else s.rollback()
        if wants_json:
            return jsonify({"ok": False, "message": error.message}), 400
        return redirect(url_for("media.index")), 303
    message = f"Uploaded “{asset.title}”."
    flash(message, "ok")  # shown after the script reloads the page, or after the redirect
    if wants_json:
        return jsonify({"ok": True, "message": message, "id": asset.id})
    return redirect(url_for("media.index"))


@bp.get("/file/<sha256>")
@login_required
def blob(sha256: str) -> Response:
    """Originals and thumbnails for staff pages (devices use the device API)."""
    _, rt, _ = context()
    row = row_or_404(m.Blob, sha256)
    return send_file(
        rt.blobs.path(sha256), mimetype=row.content_type, conditional=True, etag=sha256
    )
