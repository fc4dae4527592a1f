"""Screens (issue 8): a grid of every signage device with what it shows right now.

The screenshots live in the analytics fleet store (the ingest records every command
result there, and the device-health page reads them the same way), so this page reads
that store; which device exists, its site and name come from the CMS database. The
per-device "last asked" time lives in the CMS database (`central_cms.screens`), the one
place every CMS process shares.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, contains_eager, joinedload
from werkzeug.wrappers import Response

from central_cms import models as m
from central_cms.analytics.context import AnalyticsContext
from central_cms.analytics.model import DeviceSnapshot
from central_cms.analytics.ports import FleetStore
from central_cms.analytics.presenters import FleetRow, fleet_rows
from central_cms.auth import login_required, permission_required
from central_cms.nav import NavEntry, add_nav
from central_cms.paging import page_of
from central_cms.policy import Permission
from central_cms.runtime import parts, runtime
from central_cms.screens import (
    Moment,
    Screenshot,
    ScreensSettings,
    is_due,
    latest_screenshot,
    refresh_screenshots,
    request_due,
    requested_at,
    screenshot_png,
    thumbnail,
    tile_moment,
)
from central_cms.views.common import context
from devices.protocol import DeviceKind, NowShowing

bp = Blueprint("screens", __name__, url_prefix="/screens")

# Asking for fresh screenshots sends commands: the roles that may send commands.
REFRESH_PERMISSION = Permission.DEVICE_WRITE
# Results looked through for a device's latest screenshot when the newest result is not
# one (a reboot or identify came back since).
_RESULTS_SCANNED = 10


def register(app: Flask) -> None:
    """Register the page and its nav entry (settings: `CmsConfig.screenshot_max_age_s`)."""
    app.register_blueprint(bp)
    add_nav(app, NavEntry("Screens", "screens.index", Permission.READ, 55))


def _settings() -> ScreensSettings:
    return ScreensSettings(max_age_s=runtime().config.screenshot_max_age_s)


def _analytics() -> AnalyticsContext:
    return parts().analytics


@dataclass(frozen=True)
class Tile:
    """One screen at one moment (issue 13 point 19): the screenshot and the "Showing"
    caption are both of `moment.at`, never a picture of one time with a later status."""

    device: m.Device
    online: bool
    showing: str
    showing_since: datetime | None
    shot: Screenshot | None
    requested_at: datetime | None
    moment: Moment

    @property
    def label(self) -> str:
        return self.device.name or self.device.id

    def local(self, at: datetime) -> datetime:
        return at.astimezone(ZoneInfo(self.device.site.timezone))


def _latest(store: FleetStore, device_ids: list[str]) -> dict[str, Screenshot]:
    """Each device's newest screenshot. The newest result is usually the screenshot this
    page asked for: reading one body (a PNG of up to a few MB) per device rather than ten
    keeps the page cheap; only devices whose newest result is something else (a reboot
    or identify came back since) have their last few looked through."""
    newest = store.latest_command_results(device_ids, 1)
    found = {d: shot for d, rs in newest.items() if (shot := latest_screenshot(rs))}
    again = [d for d in newest if d not in found]
    for device_id, results in store.latest_command_results(again, _RESULTS_SCANNED).items():
        shot = latest_screenshot(results)
        if shot is not None:
            found[device_id] = shot
    return found


def _moment_caption(session: Session, moment: Moment, shot: Screenshot | None) -> str:
    if moment.known:
        return _described(session, moment.showing)
    if shot is not None:
        # An older player's screenshot, and its status is not known to cover that moment.
        return "Not known for this screenshot"
    return "Not reported yet"


def _described(session: Session, now_showing: NowShowing | None) -> str:
    if now_showing is None:
        return "Nothing reported"
    if now_showing.alert_id:
        alert = session.get(m.Alert, now_showing.alert_id)
        return f"Alert: {alert.title}" if alert else f"Alert {now_showing.alert_id}"
    if now_showing.item_id is None:
        return "Nothing scheduled (blank)"
    item = session.get(m.CampaignItem, now_showing.item_id)
    if item is None:
        return f"Item {now_showing.item_id}"
    label = (
        item.alt_text
        or (item.media.title if item.media else "")
        or str((item.text or {}).get("title", ""))
        or item.id
    )
    owner = "Default content" if item.campaign.is_default else item.campaign.name
    return f"{owner}: {label}"


def _signage(site_id: str) -> Select[m.Device]:
    """The screens, by site, then by the name staff see (the id when a device has none)."""
    query = (
        select(m.Device)
        .join(m.Site, m.Site.id == m.Device.site_id)
        .options(contains_eager(m.Device.site), joinedload(m.Device.profile))
        .where(m.Device.kind == DeviceKind.SIGNAGE.value)
        .order_by(
            m.Site.name,
            func.lower(func.coalesce(func.nullif(m.Device.name, ""), m.Device.id)),
            m.Device.id,
        )
    )
    return query.where(m.Device.site_id == site_id) if site_id else query


def _rows(devices: list[m.Device], now: datetime) -> dict[str, FleetRow]:
    analytics = _analytics()
    ids = [d.id for d in devices]
    known = {s.device_id: s for s in analytics.stores.fleet.snapshots(ids)}
    wanted = [known.get(i) or DeviceSnapshot(i, None, None, None, None, None) for i in ids]
    return {r.snapshot.device_id: r for r in fleet_rows(wanted, analytics.rules, now)}


def _tiles(session: Session, devices: list[m.Device], now: datetime) -> list[Tile]:
    rows = _rows(devices, now)
    shots = _latest(_analytics().stores.fleet, [d.id for d in devices])
    asked = requested_at(session, (d.id for d in devices))
    tiles = []
    for device in devices:
        row = rows[device.id]
        status = row.snapshot.status
        shot = shots.get(device.id)
        moment = tile_moment(shot, status)
        tiles.append(
            Tile(
                device=device,
                online=row.online,
                showing=_moment_caption(session, moment, shot),
                showing_since=moment.showing.since if moment.showing else None,
                shot=shot,
                requested_at=asked.get(device.id),
                moment=moment,
            )
        )
    return tiles


@bp.get("/")
@login_required
def index() -> str:
    session, rt, actor = context()
    settings = _settings()
    sites = session.scalars(
        select(m.Site)
        .where(
            m.Site.id.in_(select(m.Device.site_id).where(m.Device.kind == DeviceKind.SIGNAGE.value))
        )
        .order_by(m.Site.name)
    ).all()
    site_id = request.args.get("site", "")
    if site_id and site_id not in {s.id for s in sites}:
        site_id = ""
    paused = request.args.get("paused") == "1"
    now = rt.clock.now()
    # One page of screens: only its tiles are read, and only they are asked for screenshots.
    page, found = page_of(session, _signage(site_id), request.args)
    tiles = _tiles(session, [d for (d,) in found], now)
    due = [
        t.device.id
        for t in tiles
        if is_due(
            online=t.online,
            shot_at=t.shot.at if t.shot else None,
            now=now,
            max_age=settings.max_age,
        )
    ]
    asked = set(request_due(session, rt, due, settings))
    if asked:
        tiles = [replace(t, requested_at=now) if t.device.id in asked else t for t in tiles]
    return render_template(
        "screens.html",
        tiles=tiles,
        page=page,
        sites=sites,
        site_id=site_id,
        paused=paused,
        settings=settings,
        now=now,
        online=sum(1 for t in tiles if t.online),
        can_refresh=actor.can(REFRESH_PERMISSION),
    )


@bp.post("/refresh")
@permission_required(REFRESH_PERMISSION)
def refresh() -> Response:
    session, rt, actor = context()
    site_id = request.form.get("site", "")
    if site_id and session.get(m.Site, site_id) is None:
        site_id = ""
    now = rt.clock.now()
    devices = list(session.scalars(_signage(site_id)).all())
    online = [d for d, row in _rows(devices, now).items() if row.online]
    refresh_screenshots(session, rt, actor, online, _settings())
    if online:
        flash(
            f"Asked {len(online)} online screen{'s' if len(online) != 1 else ''} for a "
            "new screenshot. They appear within a few seconds.",
            "ok",
        )
    else:
        flash("No screen is online, so none was asked for a screenshot.", "warning")
    paused = request.form.get("paused") == "1"
    kept: dict[str, Any] = {"site": site_id, "paused": "1" if paused else ""}
    return redirect(url_for("screens.index", **{k: v for k, v in kept.items() if v}))


def _png(device_id: str) -> bytes:
    session, _, _ = context()
    device = session.get(m.Device, device_id)
    if device is None or device.kind != DeviceKind.SIGNAGE.value:
        abort(404)
    store = _analytics().stores.fleet
    png = screenshot_png(
        store.command_results(device_id, limit=_RESULTS_SCANNED), request.args.get("shot")
    )
    if png is None:
        abort(404)
    return png


def _picture(body: bytes, mimetype: str) -> Response:
    # A screenshot named by its command id never changes, so the browser may keep it
    # (the page reloads every few seconds); without one it is whatever is newest.
    cache = "private, max-age=86400, immutable" if request.args.get("shot") else "no-store"
    return Response(body, mimetype=mimetype, headers={"Cache-Control": cache})


@bp.get("/<device_id>/screenshot.png")
@login_required
def screenshot(device_id: str) -> Response:
    return _picture(_png(device_id), "image/png")


# Thumbnails of named screenshots, newest last: every viewer's page asks for every
# tile's, and scaling a 1080p frame costs tens of ms. Keyed by id, so the cache holds
# only the small copies (a few MB at most), never the full frames.
_THUMBNAILS: OrderedDict[tuple[str, str], tuple[bytes, str]] = OrderedDict()
_THUMBNAILS_KEPT = 256
_THUMBNAILS_LOCK = threading.Lock()


@bp.get("/<device_id>/thumbnail")
@login_required
def screenshot_thumbnail(device_id: str) -> Response:
    key = (device_id, request.args.get("shot", ""))
    with _THUMBNAILS_LOCK:
        cached = _THUMBNAILS.get(key) if key[1] else None
    if cached is None:
        try:
            cached = thumbnail(_png(device_id))
        except (OSError, ValueError):  # a PNG signature on bytes Pillow cannot decode
            abort(404)
        if key[1]:
            with _THUMBNAILS_LOCK:
                _THUMBNAILS[key] = cached
                while len(_THUMBNAILS) > _THUMBNAILS_KEPT:
                    _THUMBNAILS.popitem(last=False)
    return _picture(*cached)


def screens_url(**changes: str) -> str:
    """This page's URL with the current filters and `changes` (empty values dropped)."""
    args: dict[str, Any] = {k: v for k, v in request.args.items() if k in ("site", "paused")}
    args.update(changes)
    return url_for("screens.index", **{k: v for k, v in args.items() if v})


bp.add_app_template_global(screens_url, "screens_url")
