"""Staff analytics and IT device-health pages: a blueprint the CMS factory registers.

    from central_cms.analytics.web import register as register_analytics
    register_analytics(app)        # in create_app, after register_blueprints(app)

Reads the analytics store named by ``DS_ANALYTICS_STORE`` (app config or environment;
default ``sqlite:///<instance>/analytics.sqlite3``), the same URL `digital-spaces
ingest --store` writes. With ``DS_INGEST_IN_PROCESS`` true the CMS runs the ingest on
a thread itself (small installs). The device directory (site, kind, time zone,
published manifest version) is copied from the CMS database into the store before
each page, so the ingest and the alert rules know it too. The alert rules' thresholds
live in the fleet store too: IT edits them on /analytics/alert-rules, and the pages and
the ingest's notifier read them from there.
"""

from __future__ import annotations

import base64
import csv
import io
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
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
from central_cms.analytics import rules_form
from central_cms.analytics.charts import bar_chart, column_chart, line_chart
from central_cms.analytics.health_rules import LIMITS, AlertRules, Finding, Level, evaluate
from central_cms.analytics.model import DeviceInfo, DeviceSnapshot, Filters
from central_cms.analytics.ports import report
from central_cms.analytics.reports import DWELL_BUCKETS, Report
from central_cms.analytics.stores import Stores, open_stores
from central_cms.auth import current_actor, login_required, permission_required
from central_cms.nav import NavEntry, add_nav
from central_cms.policy import Permission
from central_cms.runtime import runtime
from central_cms.times import DATE_HINT, parse_date, zone_of
from devices.protocol import DeviceState

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
MAX_RANGE_DAYS = 400


@dataclass
class AnalyticsContext:
    stores: Stores
    ingest: Any = None  # the in-process Ingest, if any

    @property
    def rules(self) -> AlertRules:
        """The thresholds IT saved (or the defaults), read afresh for each page."""
        return self.stores.fleet.alert_rules()


def register(app: Flask, stores: Stores | None = None) -> None:
    """Register the pages, their nav entries, and (if configured) the in-process ingest."""
    if stores is None:
        url = app.config.get("DS_ANALYTICS_STORE") or os.environ.get(
            "DS_ANALYTICS_STORE", f"sqlite:///{app.instance_path}/analytics.sqlite3"
        )
        os.makedirs(app.instance_path, exist_ok=True)
        stores = open_stores(url)
    context = AnalyticsContext(stores=stores)
    app.extensions["ds_analytics"] = context
    app.register_blueprint(bp)
    sync_directory(app)
    add_nav(app, NavEntry("Analytics", "analytics.index", Permission.READ, 60))
    add_nav(app, NavEntry("Device health", "analytics.fleet", FLEET_PERMISSION, 65))
    flag = str(app.config.get("DS_INGEST_IN_PROCESS", os.environ.get("DS_INGEST_IN_PROCESS", "")))
    if flag.lower() in {"1", "true", "yes"}:
        context.ingest = _start_ingest(app, stores)


def _start_ingest(app: Flask, stores: Stores) -> Any:
    from central_cms.ingest import IngestSettings, start_ingest_thread
    from devices.broker import client_id_for
    from devices.config import BrokerUrl, MqttSettings

    config = runtime(app).config
    settings = IngestSettings(
        mqtt=MqttSettings(
            brokers=tuple(BrokerUrl.parse(u, "mqtt_brokers") for u in config.mqtt_brokers),
            username=config.mqtt_ingest_username or None,
            password=config.mqtt_password or None,
            connect_jitter_s=0,
        ),
        # Its own account: under the CMS's, the broker would give both the same client id.
        client_id=client_id_for(
            config.mqtt_ingest_username, config.mqtt_password, f"cms-ingest-{os.getpid()}"
        ),
    )
    return start_ingest_thread(stores, settings, runtime(app).clock)


def _context() -> AnalyticsContext:
    found: AnalyticsContext = current_app.extensions["ds_analytics"]
    return found


@dataclass(frozen=True)
class Names:
    sites: dict[str, str]
    campaigns: dict[str, str]
    timezone: str

    def site(self, site_id: str) -> str:
        return self.sites.get(site_id, site_id or "No site")

    def campaign(self, campaign_id: str) -> str:
        if not campaign_id:
            return "Default content and alerts"
        return self.campaigns.get(campaign_id, campaign_id)


def sync_directory(app: Flask) -> None:
    """Tell the analytics store about every device and site now, so the ingest files events
    under their site from the first one, not only after someone opens an analytics page."""
    with app.app_context():
        _sync_directory()


def _sync_directory() -> Names:
    """Copy devices, sites and published manifests from the CMS into the store."""
    session = db.session()
    sites = {s.id: s for s in session.scalars(select(m.Site))}
    states = {s.device_id: s for s in session.scalars(select(m.ManifestState))}
    infos = []
    for device in session.scalars(select(m.Device)):
        state = states.get(device.id)
        site = sites.get(device.site_id)
        infos.append(
            DeviceInfo(
                device_id=device.id,
                site_id=device.site_id,
                kind=device.kind,
                timezone=site.timezone if site else "UTC",
                name=device.name,
                expected_manifest_version=state.version if state and state.version else None,
                manifest_published_at=state.published_at if state else None,
            )
        )
    if infos:
        _context().stores.fleet.register_devices(infos)
    campaigns = {c.id: c.name for c in session.scalars(select(m.Campaign))}
    zones = sorted({s.timezone for s in sites.values()})
    return Names(
        sites={s.id: s.name for s in sites.values()},
        campaigns=campaigns,
        timezone=zones[0] if len(zones) == 1 else "UTC",
    )


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


@bp.get("/")
@login_required
def index() -> str:
    names = _sync_directory()
    filters, problems = _filters(names)
    for problem in problems:
        flash(problem, "warning")
    result = report(_context().stores.events, filters)
    by_campaign: dict[tuple[str, str], list[float]] = {}
    for row in result.plays:
        totals = by_campaign.setdefault((row.campaign_id, row.site_id), [0, 0.0, 0.0])
        totals[0] += row.plays
        totals[1] += row.shown_s
        totals[2] += row.scheduled_s
    return render_template(
        "analytics/report.html",
        by_campaign=sorted(
            by_campaign.items(), key=lambda kv: (names.campaign(kv[0][0]), names.site(kv[0][1]))
        ),
        filters=filters,
        names=names,
        result=result,
        charts=_report_charts(result, names, filters),
        query=_query(filters),
        dwell_buckets=DWELL_BUCKETS,
    )


def _days(filters: Filters) -> list[date]:
    return [
        filters.start + timedelta(days=n) for n in range((filters.end - filters.start).days + 1)
    ]


def _report_charts(result: Report, names: Names, filters: Filters) -> dict[str, Any]:
    days = _days(filters)
    label = "%d %b" if len(days) <= 31 else "%b %y"
    plays_by_day = dict.fromkeys((d.isoformat() for d in days), 0.0)
    for row in result.plays:
        plays_by_day[row.day] = plays_by_day.get(row.day, 0) + row.plays
    sessions_by_day = dict.fromkeys((d.isoformat() for d in days), 0.0)
    for wifi in result.wifi:
        sessions_by_day[wifi.day] = sessions_by_day.get(wifi.day, 0) + wifi.sessions
    per_campaign: dict[str, list[float]] = {}
    promo_totals: dict[str, list[float]] = {}
    for promo in result.promos:
        totals = promo_totals.setdefault(promo.campaign_id, [0.0, 0.0])
        totals[0] += promo.shown
        totals[1] += promo.clicked
    for row in result.plays:
        totals = per_campaign.setdefault(row.campaign_id, [0.0, 0.0])
        totals[0] += row.shown_s
        totals[1] += row.scheduled_s
    return {
        "plays": column_chart(
            [(date.fromisoformat(d).strftime(label), v) for d, v in sorted(plays_by_day.items())],
            title="Plays per day",
            unit="plays",
        ),
        "shown": bar_chart(
            [
                (names.campaign(c), shown / scheduled)
                for c, (shown, scheduled) in sorted(per_campaign.items())
                if scheduled
            ],
            title="Shown time as a share of scheduled time, per campaign",
            percent=True,
        ),
        "sessions": column_chart(
            [
                (date.fromisoformat(d).strftime(label), v)
                for d, v in sorted(sessions_by_day.items())
            ],
            title="Wi-Fi sessions per day",
            unit="sessions",
            colour="#1e6b34",
        ),
        "dwell": column_chart(
            [(row.bucket, row.sessions) for row in result.dwell],
            title="How long visitors stayed",
            unit="sessions",
            colour="#5a2d82",
            width=460,
        ),
        "promos": bar_chart(
            [
                (names.campaign(c), clicked / shown)
                for c, (shown, clicked) in sorted(promo_totals.items())
                if shown
            ],
            title="Promotion click-through, per campaign",
            percent=True,
            width=460,
        ),
    }


def _query(filters: Filters) -> dict[str, str]:
    query = {"start": filters.start.isoformat(), "end": filters.end.isoformat()}
    if filters.site_id:
        query["site"] = filters.site_id
    if filters.campaign_id:
        query["campaign"] = filters.campaign_id
    return query


def _csv_cell(value: object) -> object:
    # A cell starting with = + - @ is a formula to a spreadsheet (CSV injection).
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


_TABLES: dict[str, tuple[list[str], Callable[[Report, Names], Iterable[Sequence[object]]]]] = {
    "plays": (
        ["day", "site_id", "site", "campaign_id", "campaign", "plays", "shown_s", "scheduled_s"],
        lambda r, n: (
            (
                p.day,
                p.site_id,
                n.site(p.site_id),
                p.campaign_id,
                n.campaign(p.campaign_id),
                p.plays,
                p.shown_s,
                p.scheduled_s,
            )
            for p in r.plays
        ),
    ),
    "wifi": (
        ["day", "site_id", "site", "sessions", "unique_visitors", "returning_visitors"],
        lambda r, n: (
            (w.day, w.site_id, n.site(w.site_id), w.sessions, w.visitors, w.returning)
            for w in r.wifi
        ),
    ),
    "dwell": (
        ["stayed", "sessions"],
        lambda r, n: ((d.bucket, d.sessions) for d in r.dwell),
    ),
    "promos": (
        [
            "site_id",
            "site",
            "campaign_id",
            "campaign",
            "item_id",
            "shown",
            "clicked",
            "click_through",
        ],
        lambda r, n: (
            (
                p.site_id,
                n.site(p.site_id),
                p.campaign_id,
                n.campaign(p.campaign_id),
                p.item_id,
                p.shown,
                p.clicked,
                f"{p.click_through:.4f}" if p.click_through is not None else "",
            )
            for p in r.promos
        ),
    ),
}


@bp.get("/export/<table>.csv")
@login_required
def export(table: str) -> Response:
    if table not in _TABLES:
        abort(404)
    names = _sync_directory()
    filters, _ = _filters(names)
    header, rows = _TABLES[table]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows(report(_context().stores.events, filters), names):
        writer.writerow([_csv_cell(v) for v in row])
    filename = f"{table}-{filters.start.isoformat()}-{filters.end.isoformat()}.csv"
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# --- device health for IT ------------------------------------------------------------------


def _version_key(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.replace("-", ".").split("."):
        if not piece.isdigit():
            break
        parts.append(int(piece))
    return tuple(parts)


@dataclass(frozen=True)
class FleetRow:
    snapshot: DeviceSnapshot
    findings: tuple[Finding, ...]
    online: bool
    software_current: bool | None
    manifest_current: bool | None

    @property
    def worst(self) -> str:
        if any(f.level is Level.CRITICAL for f in self.findings):
            return "critical"
        return "warning" if self.findings else "ok"


_SORTS: dict[str, Callable[[FleetRow], Any]] = {
    "device": lambda r: r.snapshot.device_id,
    "site": lambda r: (r.snapshot.info.site_id if r.snapshot.info else "", r.snapshot.device_id),
    "kind": lambda r: (r.snapshot.info.kind if r.snapshot.info else "", r.snapshot.device_id),
    "state": lambda r: (r.online, r.snapshot.device_id),
    "problems": lambda r: ({"critical": 0, "warning": 1, "ok": 2}[r.worst], r.snapshot.device_id),
    "last_seen": lambda r: r.snapshot.last_seen.timestamp() if r.snapshot.last_seen else 0,
    "temperature": lambda r: -(r.snapshot.health.temperature_c or 0) if r.snapshot.health else 0,
    "disk": lambda r: -r.snapshot.health.disk_used_percent if r.snapshot.health else 0,
    "memory": lambda r: -r.snapshot.health.memory_used_percent if r.snapshot.health else 0,
}


def fleet_rows(
    snapshots: Sequence[DeviceSnapshot], rules: AlertRules, now: datetime
) -> list[FleetRow]:
    newest: dict[str, tuple[int, ...]] = {}
    for s in snapshots:
        if s.status is not None:
            key = _version_key(s.status.software_version)
            kind = s.status.kind.value
            newest[kind] = max(newest.get(kind, ()), key)
    rows = []
    for s in snapshots:
        findings = tuple(evaluate(s, rules, now))
        online = (
            s.status is not None
            and s.status.state is DeviceState.ONLINE
            and not any(f.rule == "offline" for f in findings)
        )
        software = None
        if s.status is not None:
            software = _version_key(s.status.software_version) >= newest[s.status.kind.value]
        manifest = None
        if s.info is not None and s.info.expected_manifest_version and s.status is not None:
            manifest = s.status.manifest_version == s.info.expected_manifest_version
        rows.append(FleetRow(s, findings, online, software, manifest))
    return rows


@bp.get("/fleet")
@permission_required(FLEET_PERMISSION)
def fleet() -> str:
    names = _sync_directory()
    now = runtime().clock.now()
    rows = fleet_rows(_context().stores.fleet.fleet(), _context().rules, now)
    sites = sorted({r.snapshot.info.site_id for r in rows if r.snapshot.info})
    kinds = sorted({r.snapshot.info.kind for r in rows if r.snapshot.info})
    site, kind = request.args.get("site", ""), request.args.get("kind", "")
    state = request.args.get("state", "")
    if site:
        rows = [r for r in rows if r.snapshot.info and r.snapshot.info.site_id == site]
    if kind:
        rows = [r for r in rows if r.snapshot.info and r.snapshot.info.kind == kind]
    if state in ("online", "offline"):
        rows = [r for r in rows if r.online == (state == "online")]
    elif state == "problems":
        rows = [r for r in rows if r.findings]
    sort = request.args.get("sort", "problems")
    if sort not in _SORTS:
        sort = "problems"
    rows.sort(key=_SORTS[sort])
    findings = sorted(
        (f for r in rows for f in r.findings),
        key=lambda f: (f.level is not Level.CRITICAL, f.device_id, f.rule),
    )
    return render_template(
        "analytics/fleet.html",
        rows=rows,
        findings=findings,
        names=names,
        sites=sites,
        kinds=kinds,
        chosen={"site": site, "kind": kind, "state": state, "sort": sort},
        sorts=list(_SORTS),
        now=now,
        online=sum(1 for r in rows if r.online),
    )


@bp.get("/fleet/<device_id>")
@permission_required(FLEET_PERMISSION)
def device(device_id: str) -> str:
    names = _sync_directory()
    now = runtime().clock.now()
    store = _context().stores.fleet
    snapshot = next((s for s in store.fleet() if s.device_id == device_id), None)
    if snapshot is None:
        abort(404)
    hours = request.args.get("hours", "24")
    span_h = {"6": 6, "24": 24, "168": 168}.get(hours, 24)
    history = store.health_history(device_id, now - timedelta(hours=span_h))
    rules = _context().rules
    zone = zone_of(snapshot.info.timezone if snapshot.info else names.timezone)
    charts = {
        "temperature": line_chart(
            {
                "temperature C": [
                    (h.at, h.temperature_c) for h in history if h.temperature_c is not None
                ]
            },
            title="Temperature",
            unit=" C",
            limit=rules.temperature_warning_c,
            fixed_max=100,
            zone=zone,
        ),
        "load": line_chart(
            {
                "CPU %": [(h.at, h.cpu_percent) for h in history],
                "memory %": [(h.at, h.memory_used_percent) for h in history],
                "disk %": [(h.at, h.disk_used_percent) for h in history],
            },
            title="CPU, memory and disk use",
            unit="%",
            limit=rules.disk_warning_percent,
            fixed_max=100,
            zone=zone,
        ),
        "outbox": line_chart(
            {"events waiting": [(h.at, float(h.outbox_pending)) for h in history]},
            title="Events waiting in the device's outbox",
            zone=zone,
        ),
    }
    results = store.command_results(device_id, limit=10)
    screenshot = next(
        (r for r in results if r.ok and isinstance(r.data.get("png_base64"), str)), None
    )
    (row,) = fleet_rows([snapshot], rules, now)
    return render_template(
        "analytics/device.html",
        row=row,
        names=names,
        charts=charts,
        results=results,
        screenshot=screenshot,
        hours=str(span_h),
        now=now,
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
    if at is None:
        return "never"
    seconds = int(((now or runtime().clock.now()) - at).total_seconds())
    if seconds < 90:
        return "just now" if seconds < 10 else f"{seconds} s ago"
    if seconds < 90 * 60:
        return f"{seconds // 60} min ago"
    if seconds < 36 * 3600:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def fleet_url(**changes: str) -> str:
    args = {k: v for k, v in request.args.items() if k in ("site", "kind", "state", "sort")}
    args.update(changes)
    kept: dict[str, Any] = {k: v for k, v in args.items() if v}
    return url_for("analytics.fleet", **kept)


bp.add_app_template_global(fleet_url, "fleet_url")
