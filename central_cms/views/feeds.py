"""Live feeds: list with each feed's health, add, edit, delete, and fetch now."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from central_cms import models as m
from central_cms.auth import login_required, permission_required
from central_cms.errors import Invalid
from central_cms.feeds.models import DEFAULT_MAX_AGE_S, DEFAULT_REFRESH_MINUTES, Feed, FeedKind
from central_cms.feeds.refresh import app_fetcher, refresh_feed
from central_cms.feeds.service import (
    FeedInput,
    FeedInvalid,
    Level,
    delete_feed,
    feed_health,
    save_feed,
)
from central_cms.policy import Permission, require
from central_cms.views.common import context, editing, flash_invalid

bp = Blueprint("feeds", __name__, url_prefix="/feeds")

KIND_LABELS = {
    FeedKind.ICAL.value: "iCal (classes, events, bookings)",
    FeedKind.RSS.value: "RSS or Atom (news)",
    FeedKind.JSON.value: "JSON list of entries",
    FeedKind.CSV.value: "CSV with a header row",
}


@bp.get("/")
@login_required
def index() -> str:
    s, rt, _ = context()
    feeds = s.scalars(select(Feed).order_by(Feed.name, Feed.id)).all()
    sites = {site.id: site.name for site in s.scalars(select(m.Site))}
    now = rt.clock.now()
    rows = [(feed, feed_health(feed, now)) for feed in feeds]
    return render_template("feeds.html", rows=rows, sites=sites, Level=Level)


def _int(raw: str | None, default: int) -> int:
    try:
        return int(str(raw).strip()) if raw not in (None, "") else default
    except ValueError:
        return -1  # out of every range: reported beside the field


@bp.route("/new", methods=["GET", "POST"], defaults={"feed_id": None})
@bp.route("/<feed_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.FEED_WRITE)
def edit(feed_id: str | None) -> str | Response | tuple[str, int]:
    s, rt, actor = context()
    feed = editing(Feed, feed_id)
    sites = [
        site
        for site in s.scalars(select(m.Site).order_by(m.Site.name))
        if actor.covers_site(site.id)
    ]
    page = {"feed": feed, "sites": sites, "kinds": KIND_LABELS, "city_wide": actor.all_sites}
    if request.method == "POST":
        form = request.form
        data = FeedInput(
            id=feed.id if feed else form.get("id", "").strip(),
            name=form.get("name", ""),
            url=form.get("url", "").strip(),
            kind=form.get("kind", ""),
            site_id=form.get("site_id") or None,
            refresh_minutes=_int(form.get("refresh_minutes"), DEFAULT_REFRESH_MINUTES),
            max_age_hours=_int(form.get("max_age_hours"), DEFAULT_MAX_AGE_S // 3600),
        )
        try:
            saved = save_feed(s, rt, actor, data, existing=feed_id)
            s.commit()
        except FeedInvalid as error:
            flash_invalid(error, shown_beside=error.fields.values())
            return render_template("feed_form.html", form=form, errors=error.fields, **page), 400
        except Invalid as error:
            flash_invalid(error)
            return render_template("feed_form.html", form=form, errors={}, **page), 400
        flash(f"Saved {saved.name}. The CMS fetches it within a minute.", "ok")
        return redirect(url_for("feeds.index"))
    return render_template("feed_form.html", form={}, errors={}, **page)


@bp.post("/<feed_id>/delete")
@permission_required(Permission.FEED_WRITE)
def delete(feed_id: str) -> Response:
    s, rt, actor = context()
    feed = s.get(Feed, feed_id) or abort(404)
    name = feed.name
    delete_feed(s, rt, actor, feed_id)
    s.commit()
    flash(f"Deleted {name}. Screens stop showing it.", "ok")
    return redirect(url_for("feeds.index"))


@bp.post("/<feed_id>/fetch")
@permission_required(Permission.FEED_WRITE)
def fetch_now(feed_id: str) -> Response:
    s, rt, actor = context()
    feed = s.get(Feed, feed_id) or abort(404)
    require(actor, Permission.FEED_WRITE, site_ids=[feed.site_id] if feed.site_id else [])
    outcome = refresh_feed(s, rt, feed, app_fetcher())
    if outcome.ok:
        sent = "sent to the screens" if outcome.changed else "the same as the screens have"
        flash(f"Fetched {feed.name}: {len(feed.entries)} entries, {sent}.", "ok")
    else:
        flash(f"Could not fetch {feed.name}: {outcome.error}", "error")
    return redirect(url_for("feeds.index"))
