"""Staff analytics and IT device-health pages: a blueprint the CMS factory registers.

    from central_cms.analytics.web import register as register_analytics
    register_analytics(app)        # in create_app, after register_blueprints(app)

The routes read the request and the stores (opened by `analytics.context` from
`CmsConfig.analytics_store`, the same URL `digital-spaces ingest --store` writes) and hand
the values to the pure presenters (`analytics.presenters`). The device directory is
copied into the store at start-up and after each commit that changes devices, sites or
manifests (`analytics.directory`), never from a page view. With
`CmsConfig.ingest_in_process` the CMS runs the ingest on a thread itself (small
installs). The alert rules' thresholds live in the fleet store too: IT edits them on
/analytics/alert-rules, and the pages and the ingest's notifier read them from there.
"""

from __future__ import annotations

import base64
from dataclasses import asdict, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from central_cms import audit, db
from central_cms import models as m
from central_cms.analytics import (
    airtime_page,
    feedback_page,
    presenters,
    report_pages,
    rules_form,
)
from central_cms.analytics.campaign_search import choose_campaign
from central_cms.analytics.context import AnalyticsContext
from central_cms.analytics.directory import read_names, watch_directory
from central_cms.analytics.directory import sync_directory as copy_directory
from central_cms.analytics.feedback import FeedbackRow, feedback_report
from central_cms.analytics.health_rules import LIMITS, AlertRules, Level
from central_cms.analytics.link_scans import scans_for
from central_cms.analytics.model import Filters, FleetFilter
from central_cms.analytics.ports import report
from central_cms.analytics.presenters import Names
from central_cms.analytics.reports import DWELL_BUCKETS
from central_cms.analytics.sqlite_fleet_pages import SORTS as FLEET_SORTS
from central_cms.auth import current_actor, login_required, permission_required
from central_cms.nav import NavEntry, add_nav
from central_cms.paging import PAGE_SIZE, Page, requested_page
from central_cms.policy import Forbidden, Permission
from central_cms.runtime import parts, runtime
from central_cms.times import DATE_HINT, parse_date, zone_of
from devices.protocol import DisplayPower

bp = Blueprint(
    "analytics",
    __name__,
    url_prefix="/analytics",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

# IT's pages: the people who register devices see their health.
FLEET_PERMISSION = Permission.DEVICE_WRITE
# The Problems list names the worst devices' findings, this many devices at most.
PROBLEMS_LISTED = 20
MAX_RANGE_DAYS = 400
# Rows of the per-campaign, site and day table shown on the page; the CSV holds every one.
DAY_ROWS_SHOWN = 200


def register(app: Flask) -> None:
    """Register the pages and their nav entries, keep the directory in step with the CMS
    database, and (with `ingest_in_process`) start the ingest once the directory is in."""
    context = parts(app).analytics
    app.register_blueprint(bp)
    app.register_blueprint(report_pages.bp)
    watch_directory(db.database(app).sessions, context.stores.fleet)
    sync_directory(app)
    add_nav(app, NavEntry("Analytics", "analytics.index", Permission.READ, 60))
    add_nav(app, NavEntry("Visitor feedback", "analytics.feedback", Permission.READ, 62))
    add_nav(app, NavEntry("Device health", "analytics.fleet", FLEET_PERMISSION, 65))
    config = runtime(app).config
    if config.ingest_in_process:
        context.start_ingest(config, runtime(app).clock)


def sync_directory(app: Flask) -> None:
    """Tell the analytics store about every device and site now, so the ingest files events
    under their site from the first one (the commits after this copy their own changes)."""
    with db.database(app).sessions() as session:
        copy_directory(session, parts(app).analytics.stores.fleet)


def _context() -> AnalyticsContext:
    return parts().analytics


def _names() -> Names:
    return read_names(db.session())


# --- staff analytics ---------------------------------------------------------------------


def _filters(names: Names) -> tuple[Filters, list[str]]:
    today = runtime().clock.now().astimezone(ZoneInfo(names.timezone)).date()
    problems = []
    try:
        end = parse_date(request.args.get("end") or today.isoformat())
        start = parse_date(request.args.get("start") or (end - timedelta(days=13)).isoformat())
    except ValueError:
        problems.append(f"Write dates as {DATE_HINT}. Showing the last 14 days.")
        end, start = today, today - timedelta(days=13)
    if end < start:
        problems.append("The end date was before the start date; they have been swapped.")
        start, end = end, start
    if (end - start).days >= MAX_RANGE_DAYS:
        problems.append(f"At most {MAX_RANGE_DAYS} days at a time; the start was moved.")
        start = end - timedelta(days=MAX_RANGE_DAYS - 1)
    site = request.args.get("site") or None
    campaign = request.args.get("campaign") or None
    actor = current_actor()
    if actor is not None and actor.sites and not actor.covers_site(site or ""):
        # An editor limited to some sites sees those only.
        site = sorted(actor.sites)[0]
    return Filters(start, end, site, campaign), problems


def _filters_shown(names: Names) -> Filters:
    """The request's filters, with what was wrong with them flashed to the page."""
    filters, problems = _filters(names)
    for problem in problems:
        flash(problem, "warning")
    return filters


def _csv_download(text: str, filename: str) -> Response:
    return Response(
        text,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.get("/")
@login_required
def index() -> str:
    names = _names()
    filters = _filters_shown(names)
    choice = choose_campaign(filters.campaign_id, request.args.get("find"), names.campaigns)
    if choice.problem:
        flash(choice.problem, "warning")
    filters = replace(filters, campaign_id=choice.campaign_id)
    query: dict[str, Any] = presenters.filter_query(filters)
    # 5,000 campaigns make thousands of (campaign, site) rows: a page of them at a time,
    # and of the per-day rows the first few (the CSV has them all), summed by the store.
    result = _context().stores.events.overview(filters, DAY_ROWS_SHOWN)
    by_campaign = presenters.campaign_totals(result, names)
    page = requested_page(request.args, len(by_campaign))
    return render_template(
        "analytics/report.html",
        by_campaign=by_campaign[page.offset : page.offset + page.size],
        page=page,
        day_rows=result.first_plays,
        filters=filters,
        names=names,
        result=result,
        charts=presenters.report_charts(result, names, filters),
        query=query,
        choice=choice,
        match_links=[
            (name, url_for("analytics.index", **{**query, "campaign": campaign_id}))
            for campaign_id, name in choice.matches
        ],
        dwell_buckets=DWELL_BUCKETS,
        scans=scans_for(db.session(), filters, names),
    )


@bp.get("/export/<table>.csv")
@login_required
def export(table: str) -> Response:
    if table not in presenters.CSV_TABLES:
        abort(404)
    names = _names()
    filters, _ = _filters(names)
    text = presenters.csv_table(table, report(_context().stores.events, filters), names)
    return _csv_download(text, f"{table}-{filters.start.isoformat()}-{filters.end.isoformat()}.csv")


def _feedback_rows(filters: Filters) -> list[FeedbackRow]:
    store = _context().stores.feedback
    return store.feedback(filters) if store is not None else []


@bp.get("/feedback")
@login_required
def feedback() -> str:
    """Visitors' feedback per site: NPS, ratings per day, comments (issue 16)."""
    names = _names()
    filters = _filters_shown(names)
    actor = current_actor()
    return render_template(
        "analytics/feedback.html",
        report=feedback_report(_feedback_rows(filters)),
        filters=filters,
        names=names,
        query=presenters.filter_query(filters),
        can_delete=actor is not None and actor.can(Permission.FEEDBACK_MODERATE),
    )


@bp.get("/feedback.csv")
@login_required
def feedback_export() -> Response:
    names = _names()
    filters, _ = _filters(names)
    text = feedback_page.feedback_csv(_feedback_rows(filters), names)
    return _csv_download(
        text, f"feedback-{filters.start.isoformat()}-{filters.end.isoformat()}.csv"
    )


@bp.post("/feedback/<event_id>/delete")
@permission_required(Permission.FEEDBACK_MODERATE)
def feedback_delete(event_id: str) -> BaseResponse:
    store = _context().stores.feedback
    actor = current_actor()
    if store is None or actor is None:
        abort(404)
    try:
        feedback_page.delete_comment(db.session(), store, actor, event_id, runtime().clock.now())
    except feedback_page.CommentGone as error:
        flash(str(error), "error")
    except Forbidden:
        abort(403)
    else:
        flash("Comment deleted.", "ok")
    kept: dict[str, Any] = {
        k: request.form[k] for k in ("start", "end", "site") if request.form.get(k)
    }
    return redirect(url_for("analytics.feedback", **kept) + "#comments")


@bp.get("/campaigns/<campaign_id>/airtime")
@login_required
def share_of_voice(campaign_id: str) -> str:
    """Guaranteed against achieved airtime, per day and hour, for a campaign with a share
    of voice (proof-of-play summed as the player counts it)."""
    session = db.session()
    campaign = session.get(m.Campaign, campaign_id)
    if campaign is None or campaign.share_s_per_hour is None:
        abort(404)
    names = _names()
    filters = _filters_shown(names)
    figures = airtime_page.figures(session, campaign, filters, runtime().clock.now())
    achieved = _context().stores.events.airtime(
        campaign.id, figures.start, figures.stop, filters.site_id
    )
    days = figures.by_day(achieved)
    shown = airtime_page.chosen_day(days, request.args.get("day", ""))
    return render_template(
        "analytics/share_of_voice.html",
        campaign=campaign,
        figures=figures,
        days=days,
        shown=shown,
        filters=filters,
        names=names,
    )


# --- device health for IT ------------------------------------------------------------------


# What IT reads when a screen's panel is off (issue 18), by `NowShowing.display`.
DISPLAY_OFF = {
    DisplayPower.SCHEDULED_OFF: "Screen off: outside its hours",
    DisplayPower.OFF: "Screen off by command",
}


@bp.get("/fleet")
@permission_required(FLEET_PERMISSION)
def fleet() -> str:
    """One page of the fleet, filtered, sorted, counted and paged by the store (issue 17:
    10,000 devices); only the page's rows are decoded and run through the rules here."""
    names = _names()
    now = runtime().clock.now()
    store, rules = _context().stores.fleet, _context().rules
    sort = request.args.get("sort", "problems")
    chosen = FleetFilter(
        site=request.args.get("site", ""),
        kind=request.args.get("kind", ""),
        state=request.args.get("state", ""),
        sort=sort if sort in FLEET_SORTS else "problems",
    )
    asked = request.args.get("page", "1")
    found = store.fleet_page(
        rules,
        now,
        chosen,
        int(asked) if asked.isdigit() and asked != "0" else 1,
        PAGE_SIZE,
        PROBLEMS_LISTED,
    )
    page = Page(found.number, found.counts.devices)
    newest = presenters.newest_versions(found.versions)
    rows = presenters.fleet_rows(store.snapshots(found.device_ids), rules, now, newest)
    worst = presenters.fleet_rows(store.snapshots(found.worst_ids), rules, now, newest)
    findings = sorted(
        (f for r in worst for f in r.findings),
        key=lambda f: (f.level is not Level.CRITICAL, f.device_id, f.rule),
    )
    return render_template(
        "analytics/fleet.html",
        rows=rows,
        page=page,
        counts=found.counts,
        findings=findings,
        problems_listed=PROBLEMS_LISTED,
        names=names,
        sites=found.sites,
        kinds=found.kinds,
        chosen=asdict(chosen),
        sorts=list(FLEET_SORTS),
        now=now,
        display_off=DISPLAY_OFF,
    )


@bp.get("/fleet/<device_id>")
@permission_required(FLEET_PERMISSION)
def device(device_id: str) -> str:
    names = _names()
    now = runtime().clock.now()
    store = _context().stores.fleet
    found = store.snapshots([device_id])
    if not found:
        abort(404)
    snapshot = found[0]
    span_h = presenters.HISTORY_HOURS.get(request.args.get("hours", "24"), 24)
    history = store.health_history(device_id, now - timedelta(hours=span_h))
    rules = _context().rules
    zone = zone_of(snapshot.info.timezone if snapshot.info else names.timezone)
    charts = presenters.device_charts(history, rules, zone)
    results = store.command_results(device_id, limit=10)
    screenshot = next(
        (r for r in results if r.ok and isinstance(r.data.get("png_base64"), str)), None
    )
    (row,) = presenters.fleet_rows([snapshot], rules, now)
    return render_template(
        "analytics/device.html",
        row=row,
        names=names,
        charts=charts,
        results=results,
        screenshot=screenshot,
        hours=str(span_h),
        now=now,
        display_off=DISPLAY_OFF,
    )


RULES_AUDIT_ACTION = "alert_rules.save"


@bp.route("/alert-rules", methods=["GET", "POST"])
@permission_required(FLEET_PERMISSION)
def alert_rules() -> str | tuple[str, int] | BaseResponse:
    store = _context().stores.fleet
    saved = store.alert_rules()
    if request.method == "GET":
        return _rules_page(rules_form.form_values(saved), {})
    submitted = rules_form.read_form(request.form)
    if submitted.rules is None:
        return _rules_page(submitted.values, submitted.errors), 400
    changed = rules_form.changes(saved, submitted.rules)
    if not changed:
        flash("Nothing changed: these are the thresholds in use.", "ok")
        return redirect(url_for("analytics.alert_rules"))
    actor = current_actor()
    if actor is None:  # permission_required lets only a signed-in actor through
        abort(401)
    session = db.session()
    # The audit row is flushed first so a CMS database that refuses it stops the change;
    # the store (another database) commits before the audit row does.
    audit.record(
        session, actor, RULES_AUDIT_ACTION, "alert_rules", "fleet", runtime().clock.now(), **changed
    )
    session.flush()
    store.save_alert_rules(submitted.rules)
    session.commit()
    flash(
        "Saved. Device health shows problems by the new thresholds now, "
        "and notifications follow them within a minute.",
        "ok",
    )
    return redirect(url_for("analytics.alert_rules"))


def _rules_page(values: dict[str, str], errors: dict[str, str]) -> str:
    last = (
        db.session()
        .scalars(
            select(m.AuditEntry)
            .where(m.AuditEntry.action == RULES_AUDIT_ACTION)
            .order_by(m.AuditEntry.id.desc())
            .limit(1)
        )
        .first()
    )
    return render_template(
        "analytics/alert_rules.html",
        groups=rules_form.GROUPS,
        fields=rules_form.FIELDS,
        values=values,
        errors=errors,
        defaults=rules_form.form_values(AlertRules()),
        limits={
            name: (rules_form.shown(lim.low), rules_form.shown(lim.high))
            for name, lim in LIMITS.items()
        },
        last=last,
    )


@bp.get("/fleet/<device_id>/screenshot.png")
@permission_required(FLEET_PERMISSION)
def screenshot(device_id: str) -> Response:
    for result in _context().stores.fleet.command_results(device_id, limit=10):
        data = result.data.get("png_base64")
        if result.ok and isinstance(data, str):
            try:
                png = base64.b64decode(data, validate=True)
            except ValueError:
                continue
            if png.startswith(b"\x89PNG\r\n\x1a\n"):  # serve only what is really a PNG
                return Response(png, mimetype="image/png", headers={"Cache-Control": "no-store"})
    abort(404)


@bp.app_template_filter("ago")
def ago(at: datetime | None, now: datetime | None = None) -> str:
    return presenters.ago(at, now or runtime().clock.now())


def fleet_url(**changes: str) -> str:
    # A new sort or filter starts again at page 1: no "page" kept.
    args = {k: v for k, v in request.args.items() if k in ("site", "kind", "state", "sort")}
    args.update(changes)
    kept: dict[str, Any] = {k: v for k, v in args.items() if v}
    return url_for("analytics.fleet", **kept)


bp.add_app_template_global(fleet_url, "fleet_url")
