"""Playlists: the list, and the editor with its move up/down buttons.

The buttons are plain submit buttons of the editor's form, so reordering works without
JavaScript: the page comes back in the new order, unsaved, with focus on the moved item's
button. static/playlist.js adds Alt+ArrowUp/ArrowDown on any field of an item.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from central_cms import models as m
from central_cms import playlists as service
from central_cms.auth import login_required, permission_required
from central_cms.errors import Invalid
from central_cms.playlist_models import Playlist
from central_cms.policy import Permission
from central_cms.times import date_field, parse_date
from central_cms.views.common import context, editing, flash_invalid
from devices.protocol import Fit, ItemKind, TextSlide
from devices.protocol.layouts import FEED_WIDGETS, Widget, WidgetKind

bp = Blueprint("playlists", __name__, url_prefix="/playlists")

FIELDS = (
    "kind",
    "media_id",
    "title",
    "body",
    "widget",
    "feed",
    "countdown_to",
    "duration_s",
    "valid_from",
    "valid_until",
    "alt_text",
    "fit",
)
BLANK_ROWS = 2
Row = dict[str, str]


def _rows(form: MultiDict[str, str]) -> list[Row]:
    try:
        count = min(int(form.get("rows", "0")), 200)
    except ValueError:
        count = 0
    return [{f: form.get(f"items-{n}-{f}", "") for f in FIELDS} for n in range(count)]


def _used(row: Row) -> bool:
    return bool(row["kind"]) and bool(row["media_id"] or row["title"].strip() or row["widget"])


def _date(raw: str, field: str, what: str) -> Any:
    try:
        return parse_date(raw) if raw.strip() else None
    except ValueError as error:
        raise Invalid(field, f"{what}: {error}.") from None


def _item(row: Row, n: int, timezone: str) -> service.PlaylistItemInput:
    where = f"Item {n + 1}"
    try:
        kind = ItemKind(row["kind"])
        fit = Fit(row["fit"] or "fit")
        duration = float(row["duration_s"] or "10")
    except ValueError:
        raise Invalid(f"items-{n}-duration_s", f"{where}: give the seconds, like 10.") from None
    widget = None
    if kind is ItemKind.WIDGET:
        try:
            widget_kind = WidgetKind(row["widget"])
        except ValueError:
            raise Invalid(f"items-{n}-widget", f"{where}: choose a widget.") from None
        countdown = _date(row["countdown_to"], f"items-{n}-countdown_to", where)
        if widget_kind is WidgetKind.COUNTDOWN and countdown is None:
            raise Invalid(f"items-{n}-countdown_to", f"{where}: give the day it counts down to.")
        widget = (
            Widget(
                kind=widget_kind,
                feed=(row["feed"] or None) if widget_kind in FEED_WIDGETS else None,
                title=row["title"].strip()[:200],
                countdown_to=datetime.combine(countdown, time(0), ZoneInfo(timezone)).astimezone(
                    UTC
                )
                if countdown and widget_kind is WidgetKind.COUNTDOWN
                else None,
            )
            if widget_kind not in FEED_WIDGETS or row["feed"]
            else None
        )
        if widget is None:
            raise Invalid(f"items-{n}-feed", f"{where}: choose the feed it shows.")
    return service.PlaylistItemInput(
        kind=kind,
        duration_s=duration,
        media_id=int(row["media_id"]) if row["media_id"].isdigit() else None,
        text=TextSlide(title=row["title"].strip()[:200], body=row["body"][:5000])
        if kind is ItemKind.TEXT
        else None,
        widget=widget,
        alt_text=row["alt_text"][:200],
        fit=fit,
        valid_from=_date(row["valid_from"], f"items-{n}-valid_from", where),
        valid_until=_date(row["valid_until"], f"items-{n}-valid_until", where),
    )


def parse(form: MultiDict[str, str], rows: list[Row]) -> service.PlaylistInput:
    s, _, _ = context()
    site = s.get(m.Site, form.get("owner_site_id", ""))
    timezone = site.timezone if site else "UTC"
    return service.PlaylistInput(
        name=form.get("name", ""),
        owner_site_id=form.get("owner_site_id", ""),
        items=tuple(_item(row, n, timezone) for n, row in enumerate(rows) if _used(row)),
    )


def _rows_of(playlist: Playlist) -> list[Row]:
    rows = []
    for item in playlist.items:
        widget = item.widget or {}
        rows.append(
            {
                "kind": item.kind,
                "media_id": str(item.media_id or ""),
                "title": (item.text or {}).get("title", "") or widget.get("title", ""),
                "body": (item.text or {}).get("body", ""),
                "widget": widget.get("kind", ""),
                "feed": widget.get("feed") or "",
                "countdown_to": "",
                "duration_s": f"{item.duration_s:g}",
                "valid_from": date_field(item.valid_from) if item.valid_from else "",
                "valid_until": date_field(item.valid_until) if item.valid_until else "",
                "alt_text": item.alt_text,
                "fit": item.fit,
            }
        )
    return rows


def _render(
    playlist: Playlist | None,
    values: dict[str, str],
    rows: list[Row],
    *,
    focus: str = "",
    field_errors: dict[str, list[str]] | None = None,
    code: int = 200,
) -> tuple[str, int]:
    s, _, actor = context()
    sites = s.scalars(select(m.Site).order_by(m.Site.name)).all()
    own_sites = [site for site in sites if actor.covers_site(site.id)]
    # Every feed the editor's sites may show: a new playlist has no owner yet, and the
    # owner can change on the form; saving checks the feed belongs to the owner chosen.
    feeds = service.known_feeds(s, None)
    for site in own_sites:
        feeds |= service.known_feeds(s, site.id)
    return (
        render_template(
            "playlist_form.html",
            playlist=playlist,
            values=values,
            rows=rows,
            focus=focus,
            field_errors=field_errors or {},
            own_sites=own_sites,
            media=s.scalars(select(m.MediaAsset).order_by(m.MediaAsset.title)).all(),
            feeds=feeds,
            widgets=list(service.WIDGET_NAMES.items()),
            fits=list(Fit),
            used_by=service.using(s, playlist.id) if playlist else [],
        ),
        code,
    )


def _errors(error: Invalid, rows: list[Row]) -> dict[str, list[str]]:
    """Problems keyed by the editor's field name, to show beside the field."""
    used = [n for n, row in enumerate(rows) if _used(row)]
    errors: dict[str, list[str]] = {}
    if error.field != "items":
        errors[error.field] = [error.message]
    for (number, field), messages in error.item_problems.items():
        if 0 < number <= len(used):
            errors.setdefault(f"items-{used[number - 1]}-{field}", []).extend(messages)
    return errors


@bp.get("/")
@login_required
def index() -> str:
    s, _, _ = context()
    return render_template(
        "playlists.html",
        playlists=s.scalars(select(Playlist).order_by(Playlist.name)).all(),
    )


@bp.route("/new", methods=["GET", "POST"], defaults={"playlist_id": None})
@bp.route("/<playlist_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.CAMPAIGN_WRITE)
def edit(playlist_id: str | None) -> str | Response | tuple[str, int]:
    s, rt, actor = context()
    playlist = editing(Playlist, playlist_id)
    if request.method == "GET":
        values = (
            {"name": playlist.name, "owner_site_id": playlist.owner_site_id} if playlist else {}
        )
        rows = _rows_of(playlist) if playlist else []
        blank = {f: "" for f in FIELDS}
        return _render(playlist, values, rows + [dict(blank) for _ in range(BLANK_ROWS)])
    form = request.form
    values = {"name": form.get("name", ""), "owner_site_id": form.get("owner_site_id", "")}
    rows = _rows(form)
    action = form.get("action", "save")
    if action != "save":
        return _rearranged(playlist, values, rows, action)
    try:
        saved = service.save(s, rt, actor, parse(form, rows), playlist_id)
    except Invalid as error:
        field_errors = _errors(error, rows)
        flash_invalid(error, shown_beside={m for ms in field_errors.values() for m in ms})
        if field_errors:
            flash("Not saved: the problems are explained beside the fields below.", "error")
        return _render(playlist, values, rows, field_errors=field_errors, code=400)
    flash(f"Saved the playlist “{saved.name}” ({len(saved.items)} items).", "ok")
    return redirect(url_for("playlists.edit", playlist_id=saved.id))


def _rearranged(
    playlist: Playlist | None, values: dict[str, str], rows: list[Row], action: str
) -> tuple[str, int]:
    """Move, remove or add rows; the page comes back unsaved with focus kept."""
    verb, _, rest = action.partition(":")
    number, _, direction = rest.partition(":")
    n = int(number) if number.isdigit() and int(number) < len(rows) else -1
    focus = ""
    if verb == "move" and n >= 0:
        other = n - 1 if direction == "up" else n + 1
        if 0 <= other < len(rows):
            rows[n], rows[other] = rows[other], rows[n]
            label = rows[other]["alt_text"] or rows[other]["title"] or f"item {n + 1}"
            flash(
                f"Moved “{label}” to position {other + 1} of {len(rows)}. "
                "Save the playlist to keep the new order.",
                "ok",
            )
            at_edge = (direction == "up" and other == 0) or (
                direction == "down" and other == len(rows) - 1
            )
            flipped = "down" if direction == "up" else "up"
            focus = f"move-{other}-{flipped if at_edge else direction}"
    elif verb == "remove" and n >= 0:
        del rows[n]
        focus = "add-rows"
    elif verb == "add":
        rows += [{f: "" for f in FIELDS} for _ in range(3)]
        focus = f"items-{len(rows) - 3}-kind"
    return _render(playlist, values, rows, focus=focus)
