"""Alerts: send to all devices or one site, with an expiry; change or clear early."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from central_cms import alerts as service
from central_cms import models as m
from central_cms.auth import login_required, permission_required
from central_cms.errors import Invalid
from central_cms.policy import Permission, require
from central_cms.views.common import context, flash_invalid, row_or_404
from central_cms.views.timefmt import local_time_filter, site_zone
from devices.protocol import ALL_SCOPE, Severity

bp = Blueprint("alerts", __name__, url_prefix="/alerts")
MAX_MINUTES = 7 * 24 * 60  # an alert lasts a week at the most


def _minutes(raw: str) -> int | None:
    """How long an alert lasts as staff typed it, or None when it is not 1..MAX_MINUTES."""
    try:
        minutes = int(raw)
    except ValueError:
        return None
    return minutes if 1 <= minutes <= MAX_MINUTES else None


@bp.get("/")
@login_required
def index() -> str:
    s, rt, _ = context()
    alerts = s.scalars(select(m.Alert).order_by(m.Alert.issued_at.desc()).limit(100)).all()
    sites = s.scalars(select(m.Site).order_by(m.Site.name)).all()
    return render_template(
        "alerts.html", alerts=alerts, sites=sites, severities=list(Severity), now=rt.clock.now()
    )


@bp.post("/")
@permission_required(Permission.ALERT_WRITE)
def send() -> Response:
    s, rt, actor = context()
    form = request.form
    minutes = _minutes(form.get("minutes", "60"))
    if minutes is None:
        flash(f"Give how long the alert lasts, 1 to {MAX_MINUTES} minutes.", "error")
        return redirect(url_for("alerts.index"))
    try:
        alert = service.send_alert(
            s,
            rt,
            actor,
            scope=form.get("scope", "all"),
            title=form.get("title", ""),
            body=form.get("body", ""),
            severity=Severity(form.get("severity", "warning")),
            expires_at=rt.clock.now() + timedelta(minutes=minutes),
        )
        flash(
            f"Alert “{alert.title}” sent; it ends at {_local(alert.expires_at, alert.scope)}.", "ok"
        )
    except Invalid as error:
        flash_invalid(error)
    return redirect(url_for("alerts.index"))


@bp.get("/<alert_id>/edit")
@permission_required(Permission.ALERT_WRITE)
def edit(alert_id: str) -> str | Response:
    _, rt, actor = context()
    alert = row_or_404(m.Alert, alert_id)
    require(
        actor, Permission.ALERT_WRITE, site_ids=[] if alert.scope == ALL_SCOPE else [alert.scope]
    )
    now = rt.clock.now()
    if alert.cleared or alert.expires_at <= now:
        flash(f"“{alert.title}” has ended: send a new alert instead.", "error")
        return redirect(url_for("alerts.index"))
    left = max(1, math.ceil((alert.expires_at - now).total_seconds() / 60))
    return render_template("alert_edit.html", alert=alert, severities=list(Severity), minutes=left)


@bp.post("/<alert_id>/edit")
@permission_required(Permission.ALERT_WRITE)
def change(alert_id: str) -> Response:
    s, rt, actor = context()
    form = request.form
    minutes = _minutes(form.get("minutes", ""))
    if minutes is None:
        flash(f"Give how long the alert lasts from now, 1 to {MAX_MINUTES} minutes.", "error")
        return redirect(url_for("alerts.edit", alert_id=alert_id))
    try:
        alert = service.edit_alert(
            s,
            rt,
            actor,
            alert_id,
            title=form.get("title", ""),
            body=form.get("body", ""),
            severity=Severity(form.get("severity", "warning")),
            expires_at=rt.clock.now() + timedelta(minutes=minutes),
        )
    except Invalid as error:
        flash_invalid(error)
        return redirect(url_for("alerts.edit", alert_id=alert_id))
    except ValueError:
        flash("Choose a severity from the list.", "error")
        return redirect(url_for("alerts.edit", alert_id=alert_id))
    flash(f"Changed “{alert.title}”; it ends at {_local(alert.expires_at, alert.scope)}.", "ok")
    return redirect(url_for("alerts.index"))


@bp.post("/<alert_id>/clear")
@permission_required(Permission.ALERT_WRITE)
def clear(alert_id: str) -> Response:
    s, rt, actor = context()
    alert = service.clear_alert(s, rt, actor, alert_id)
    flash(f"Cleared “{alert.title}”.", "ok")
    return redirect(url_for("alerts.index"))


def _local(at: datetime, scope: str) -> str:
    """In the alert's site's zone (issue 13 point 20), like the rest of the CMS."""
    return local_time_filter(at, site_zone(scope))
