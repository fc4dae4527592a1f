"""Plan and preview (issue 14): a week calendar per site or per screen of what plays
when, and any screen previewed at a chosen instant (the splash as a phone would show it).

Times staff type and read are the site's local time. The decisions come from
central_cms/week_plan.py and central_cms/screen_preview.py; this module only reads the
request and the database and lays the answers out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from central_cms import models as m
from central_cms import screen_preview, week_plan
from central_cms.auth import login_required
from central_cms.feeds.models import Feed
from central_cms.feeds.publish import feed_message
from central_cms.screen_plans import PlannedScreen, planned_screens
from central_cms.views.common import context
from devices.protocol import ProfileKind
from devices.protocol.feeds import FeedData

bp = Blueprint("calendar", __name__, url_prefix="/calendar")

# How the preview's caption says when the panel is on (issue 18); "always" says nothing.
POWER_WHEN = {"opening-hours": "during the site's opening hours", "own": "during its own hours"}

PORTAL_CSS = Path(__file__).parents[2] / "portal" / "static" / "portal.css"
LOCAL_MINUTE = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends


@dataclass(frozen=True)
class Row:
    """One line of a day in the calendar, ready to show."""

    time: str
    what: str
    kind: str
    campaigns: tuple[week_plan.Campaign, ...]
    screens: tuple[str, ...]
    preview_at: str  # local minute, for the preview link


def _clock(at: datetime) -> str:
    return at.strftime("%H:%M")


def _rows(day: week_plan.Day) -> list[Row]:
    rows = []
    for entry in day.entries:
        start = "00:00 (from the day before)" if entry.from_day_before else _clock(entry.start)
        end = "midnight (continues)" if entry.into_next_day else _clock(entry.end)
        if entry.end.date() > day.day and not entry.into_next_day:
            end = "midnight"
        whole_day = entry.start.time() == time(0) and entry.end.date() > day.day
        span = "All day" if whole_day else f"{start} \u2013 {end}"
        rows.append(
            Row(
                time=span,
                what=entry.showing.describe(),
                kind=entry.showing.kind.value,
                campaigns=tuple(c for c in entry.showing.campaigns if c.id),
                screens=entry.screens,
                preview_at=entry.start.strftime(LOCAL_MINUTE),
            )
        )
    return rows


def _monday(raw: str | None, tz: ZoneInfo, now: datetime) -> date:
    try:
        chosen = date.fromisoformat(raw) if raw else now.astimezone(tz).date()
    except ValueError:
        chosen = now.astimezone(tz).date()
    return week_plan.monday_of(chosen)


def _week_page(
    *, title: str, tz_name: str, screens: list[PlannedScreen], monday: date, **extra: object
) -> str:
    tz = ZoneInfo(tz_name)
    start, end = week_plan.week_bounds(monday, tz)
    by_screen = {
        s.name: week_plan.stretches(s.manifest, s.alerts, s.device.kind, start, end)
        for s in screens
    }
    days = week_plan.week_days(by_screen, monday, tz)
    hours = {
        d.day: round(
            (
                week_plan.local_midnight(d.day + timedelta(days=1), tz)
                - week_plan.local_midnight(d.day, tz)
            ).total_seconds()
            / 3600
        )
        for d in days
    }
    return render_template(
        "week_calendar.html",
        title=title,
        tz=tz_name,
        days=[(d.day, hours[d.day], _rows(d)) for d in days],
        monday=monday,
        previous=monday - timedelta(days=7),
        following=monday + timedelta(days=7),
        **extra,
    )


@bp.get("/")
@login_required
def index() -> str:
    s, _, _ = context()
    sites = s.scalars(select(m.Site).order_by(m.Site.name)).all()
    devices = s.scalars(select(m.Device).order_by(m.Device.name, m.Device.id)).all()
    by_site: dict[str, list[m.Device]] = {}
    for device in devices:
        by_site.setdefault(device.site_id, []).append(device)
    return render_template("calendar_index.html", sites=sites, by_site=by_site)


@bp.get("/sites/<site_id>")
@login_required
def site_week(site_id: str) -> str:
    s, rt, _ = context()
    site = s.get(m.Site, site_id) or abort(404)
    tz = ZoneInfo(site.timezone)
    monday = _monday(request.args.get("week"), tz, rt.clock.now())
    ids = list(s.scalars(select(m.Device.id).where(m.Device.site_id == site_id)))
    start, end = week_plan.week_bounds(monday, tz)
    return _week_page(
        title=f"What plays when at {site.name}",
        tz_name=site.timezone,
        screens=planned_screens(s, rt, ids, start, end),
        monday=monday,
        site=site,
        device=None,
        endpoint="calendar.site_week",
        endpoint_args={"site_id": site_id},
    )


@bp.get("/screens/<device_id>")
@login_required
def screen_week(device_id: str) -> str:
    s, rt, _ = context()
    device = s.get(m.Device, device_id) or abort(404)
    tz = ZoneInfo(device.site.timezone)
    monday = _monday(request.args.get("week"), tz, rt.clock.now())
    start, end = week_plan.week_bounds(monday, tz)
    return _week_page(
        title=f"What plays when on {device.name or device.id}",
        tz_name=device.site.timezone,
        screens=planned_screens(s, rt, [device_id], start, end),
        monday=monday,
        site=device.site,
        device=device,
        endpoint="calendar.screen_week",
        endpoint_args={"device_id": device_id},
    )


def _instant(device: m.Device, raw: str | None, now: datetime) -> tuple[datetime, str]:
    """The chosen local minute as an instant, and a problem to show beside the field."""
    tz = ZoneInfo(device.site.timezone)
    if not raw:
        return now, ""
    try:
        return datetime.strptime(raw, LOCAL_MINUTE).replace(tzinfo=tz), ""
    except ValueError:
        shown = raw[:40]
        return now, f"\u201c{shown}\u201d is not a date and time; showing now instead."


def _planned_at(device_id: str, raw: str | None) -> tuple[m.Device, PlannedScreen, datetime, str]:
    s, rt, _ = context()
    device = s.get(m.Device, device_id) or abort(404)
    at, problem = _instant(device, raw, rt.clock.now())
    (screen,) = planned_screens(s, rt, [device_id], at, at + timedelta(days=1))
    return device, screen, at, problem


@bp.get("/screens/<device_id>/preview")
@login_required
def preview(device_id: str) -> str:
    device, screen, at, problem = _planned_at(device_id, request.args.get("at"))
    tz = ZoneInfo(device.site.timezone)
    local = at.astimezone(tz)
    chosen = local.strftime(LOCAL_MINUTE)
    showing = week_plan.showing_at(screen.manifest, screen.alerts, screen.device.kind, at)
    return render_template(
        "screen_preview.html",
        device=device,
        profile=screen.manifest.profile,
        canvas=screen.manifest.canvas,
        rotation=screen.manifest.rotation_deg,
        power_hours=POWER_WHEN.get(device.power_mode, ""),
        portal=screen.manifest.profile.kind is ProfileKind.PORTAL,
        showing=showing,
        at_label=local.strftime("%A %-d %B %Y, %H:%M"),
        chosen=chosen,
        tz=device.site.timezone,
        problem=problem,
        week=week_plan.monday_of(local.date()).isoformat(),
    )


@bp.get("/screens/<device_id>/frame.png")
@login_required
def frame(device_id: str) -> Response:
    session, rt, _ = context()
    _, screen, at, _ = _planned_at(device_id, request.args.get("at"))

    def feeds(feed_id: str) -> FeedData | None:
        """The feed's last good copy, as the screen would hold it at `at`: named by its
        manifest and within the age limit (devices/feeds.py), else "unavailable"."""
        ref = next((f for f in screen.manifest.feeds if f.id == feed_id), None)
        feed = session.get(Feed, feed_id)
        if ref is None or feed is None or feed.last_ok_at is None:
            return None
        if at - feed.last_ok_at > timedelta(seconds=ref.max_age_s):
            return None
        return feed_message(feed, max(1, feed.version), feed.last_ok_at)

    image = screen_preview.frame_at(screen.manifest, screen.alerts, at, rt.blobs.read, feeds)
    return Response(
        screen_preview.png(image),
        mimetype="image/png",
        headers={"Cache-Control": "private, max-age=60"},
    )


@bp.get("/screens/<device_id>/splash")
@login_required
def splash(device_id: str) -> Response:
    """The splash page itself, shown inside the preview page's phone frame."""
    _, screen, at, _ = _planned_at(device_id, request.args.get("at"))
    page = screen_preview.splash_at(
        screen.manifest,
        screen.alerts,
        at,
        language=request.args.get("lang", "en"),
        css_url=url_for("calendar.portal_css"),
        asset_url=lambda sha: url_for("calendar.asset", sha256=sha),
    )
    return Response(
        page,
        mimetype="text/html",
        headers={
            # Only the preview page may frame it; nothing in it runs or is sent anywhere.
            "X-Frame-Options": "SAMEORIGIN",
            "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; script-src 'none'; form-action 'none'; "
            "frame-ancestors 'self'",
        },
    )


@bp.get("/portal.css")
@login_required
def portal_css() -> Response:
    return Response(PORTAL_CSS.read_bytes(), mimetype="text/css")


@bp.get("/assets/<sha256>")
@login_required
def asset(sha256: str) -> Response:
    s, rt, _ = context()
    blob = s.get(m.Blob, sha256) or abort(404)
    return Response(
        rt.blobs.read(sha256),
        mimetype=blob.content_type,
        headers={"Cache-Control": "private, max-age=3600"},
    )
