"""The audit log, newest first."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from sqlalchemy import select

from central_cms import models as m
from central_cms.auth import permission_required
from central_cms.paging import page_of
from central_cms.policy import Permission
from central_cms.views.common import context

bp = Blueprint("audit_log", __name__, url_prefix="/audit")


@bp.get("/")
@permission_required(Permission.AUDIT_READ)
def index() -> str:
    s, _, _ = context()
    query = select(m.AuditEntry).order_by(m.AuditEntry.id.desc())
    entity = request.args.get("entity", "")
    if entity:
        query = query.where(m.AuditEntry.entity_id == entity)
    page, rows = page_of(s, query, request.args)
    return render_template("audit.html", entries=[e for (e,) in rows], entity=entity, page=page)
