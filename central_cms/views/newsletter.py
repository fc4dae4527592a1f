"""Newsletter sign-ups (issue 6): the addresses visitors gave on the Wi-Fi sign-in page.

Only roles with `Permission.NEWSLETTER` see this page (and its nav entry); site editors
see their own sites. The rules live in `central_cms.newsletter`.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from central_cms import models as m
from central_cms import newsletter
from central_cms.auth import permission_required
from central_cms.errors import NotFound
from central_cms.policy import Permission
from central_cms.views.common import context

bp = Blueprint("newsletter", __name__, url_prefix="/newsletter")


def _filters(values: dict[str, str]) -> newsletter.Filters:
    return newsletter.Filters(
        site_id=values.get("site", "").strip()[:64], search=values.get("q", "").strip()[:254]
    )


def _query_args(filters: newsletter.Filters) -> dict[str, str]:
    return {
        key: value for key, value in (("site", filters.site_id), ("q", filters.search)) if value
    }


@bp.get("/")
@permission_required(Permission.NEWSLETTER)
def index() -> str:
    s, _, actor = context()
    filters = _filters(dict(request.args))
    sites = [
        site
        for site in s.scalars(select(m.Site).order_by(m.Site.name)).all()
        if actor.covers_site(site.id)
    ]
    rows, total = newsletter.list_signups(s, actor, filters)
    return render_template(
        "newsletter.html",
        rows=rows,
        total=total,
        sites=sites,
        filters=filters,
        query_args=_query_args(filters),
    )


@bp.get("/export.csv")
@permission_required(Permission.NEWSLETTER)
def export() -> Response:
    s, rt, actor = context()
    filters = _filters(dict(request.args))
    text = newsletter.export_csv(s, rt, actor, filters)
    name = f"newsletter-signups-{filters.site_id or 'all-sites'}.csv"
    return Response(
        text,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


@bp.post("/<int:signup_id>/delete")
@permission_required(Permission.NEWSLETTER)
def delete(signup_id: int) -> Response:
    s, rt, actor = context()
    try:
        newsletter.delete_signup(s, rt, actor, signup_id)
    except NotFound as error:
        flash(str(error), "error")
    else:
        flash(f"Deleted sign-up {signup_id}.", "ok")
    # Back to the same view; only our own query arguments go into the address.
    filters = _filters(dict(request.form))
    return redirect(
        url_for("newsletter.index", site=filters.site_id or None, q=filters.search or None)
    )
