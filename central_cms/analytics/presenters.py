"""What the analytics pages show, as values: charts, CSV tables and fleet rows.

Pure: each function takes a report, the stores' snapshots or the names, and returns what
a template renders or a CSV holds; the routes in `web.py` only read requests and stores.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from central_cms.analytics.charts import bar_chart, column_chart, line_chart
from central_cms.analytics.health_rules import AlertRules, Finding, Level, evaluate
from central_cms.analytics.model import DeviceSnapshot, Filters
from central_cms.analytics.reports import Overview, Report
from central_cms.spreadsheet import csv_cell
from devices.protocol import DeviceState, Health, PortalHealth


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

    def where_and_what(self, site_id: str, campaign_id: str) -> tuple[str, str, str, str]:
        """A CSV row's `WHERE_AND_WHAT` cells: the site and campaign, by id and by name."""
        return site_id, self.site(site_id), campaign_id, self.campaign(campaign_id)


WHERE_AND_WHAT = ["site_id", "site", "campaign_id", "campaign"]


# --- staff analytics ---------------------------------------------------------------------


def campaign_totals(result: Overview, names: Names) -> list[tuple[tuple[str, str], list[float]]]:
    """Plays, shown and scheduled seconds per (campaign, site), in name order."""
    return sorted(
        (
            ((campaign, site), [t.plays, t.shown_s, t.scheduled_s])
            for campaign, site, t in result.by_campaign_site
        ),
        key=lambda kv: (names.campaign(kv[0][0]), names.site(kv[0][1])),
    )


def _days(filters: Filters) -> list[date]:
    return [
        filters.start + timedelta(days=n) for n in range((filters.end - filters.start).days + 1)
    ]


def _per_day(
    days: list[date], rows: Iterable[tuple[str, float]], label: str
) -> list[tuple[str, float]]:
    """(day, value) rows summed per day of the period (a day without rows shows 0),
    labelled with `label` (strftime)."""
    by_day = dict.fromkeys((d.isoformat() for d in days), 0.0)
    for day, value in rows:
        by_day[day] = by_day.get(day, 0) + value
    return [(date.fromisoformat(d).strftime(label), v) for d, v in sorted(by_day.items())]


# Campaigns the shown-time chart draws: past this many, the lowest shares (issue 17: a
# bar each for 5,000 campaigns was a 130,000-pixel chart and most of the page's time).
SHARE_BARS = 20


def _share_per_campaign(
    rows: Iterable[tuple[str, float, float]], names: Names, lowest: int | None = None
) -> tuple[list[tuple[str, float]], int]:
    """(campaign id, part, whole) rows as part / whole per campaign, by campaign name (a
    campaign with nothing in the whole is left out), and how many campaigns have one;
    past `lowest` campaigns, only the `lowest` smallest shares, smallest first."""
    totals: dict[str, list[float]] = {}
    for campaign_id, part, whole in rows:
        summed = totals.setdefault(campaign_id, [0.0, 0.0])
        summed[0] += part
        summed[1] += whole
    shares = [(c, part / whole) for c, (part, whole) in sorted(totals.items()) if whole]
    if lowest is not None and len(shares) > lowest:
        chosen = sorted(shares, key=lambda share: (share[1], share[0]))[:lowest]
        return [(names.campaign(c), share) for c, share in chosen], len(shares)
    return [(names.campaign(c), share) for c, share in shares], len(shares)


def report_charts(result: Overview, names: Names, filters: Filters) -> dict[str, Any]:
    days = _days(filters)
    label = "%d %b" if len(days) <= 31 else "%b %y"
    shown, shown_campaigns = _share_per_campaign(
        ((campaign, t.shown_s, t.scheduled_s) for campaign, _, t in result.by_campaign_site),
        names,
        SHARE_BARS,
    )
    promos, _ = _share_per_campaign(
        ((p.campaign_id, p.clicked, p.shown) for p in result.promos), names
    )
    return {
        "shown_campaigns": shown_campaigns,  # of which `shown` draws len(...) at most
        "shown_bars": len(shown),
        "plays": column_chart(
            _per_day(days, result.plays_per_day, label),
            title="Plays per day",
            unit="plays",
        ),
        "shown": bar_chart(
            shown,
            title="Shown time as a share of scheduled time, per campaign",
            percent=True,
        ),
        "sessions": column_chart(
            _per_day(days, ((wifi.day, wifi.sessions) for wifi in result.wifi), label),
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
            promos,
            title="Promotion click-through, per campaign",
            percent=True,
            width=460,
        ),
    }


def filter_query(filters: Filters) -> dict[str, str]:
    """The filters as query arguments, for links that keep them."""
    query = {"start": filters.start.isoformat(), "end": filters.end.isoformat()}
    if filters.site_id:
        query["site"] = filters.site_id
    if filters.campaign_id:
        query["campaign"] = filters.campaign_id
    return query


CSV_TABLES: dict[str, tuple[list[str], Callable[[Report, Names], Iterable[Sequence[object]]]]] = {
    "plays": (
        ["day", *WHERE_AND_WHAT, "plays", "shown_s", "scheduled_s"],
        lambda r, n: (
            (p.day, *n.where_and_what(p.site_id, p.campaign_id), p.plays, p.shown_s, p.scheduled_s)
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
        [*WHERE_AND_WHAT, "item_id", "shown", "clicked", "click_through"],
        lambda r, n: (
            (
                *n.where_and_what(p.site_id, p.campaign_id),
                p.item_id,
                p.shown,
                p.clicked,
                f"{p.click_through:.4f}" if p.click_through is not None else "",
            )
            for p in r.promos
        ),
    ),
}


def csv_table(table: str, result: Report, names: Names) -> str:
    """One of `CSV_TABLES` as CSV text, every cell safe to open in a spreadsheet."""
    header, rows = CSV_TABLES[table]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows(result, names):
        writer.writerow([csv_cell(v) for v in row])
    return buffer.getvalue()


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
    def portal(self) -> PortalHealth | None:
        """A portal node's Wi-Fi figures from its latest health sample (issue 16)."""
        health = self.snapshot.health
        return health.portal if health is not None else None

    @property
    def worst(self) -> str:
        if any(f.level is Level.CRITICAL for f in self.findings):
            return "critical"
        return "warning" if self.findings else "ok"


def newest_versions(versions: Iterable[tuple[str, str]]) -> dict[str, tuple[int, ...]]:
    """The newest software version reported per device kind, from (kind, version) pairs."""
    newest: dict[str, tuple[int, ...]] = {}
    for kind, version in versions:
        newest[kind] = max(newest.get(kind, ()), _version_key(version))
    return newest


def fleet_rows(
    snapshots: Sequence[DeviceSnapshot],
    rules: AlertRules,
    now: datetime,
    newest: dict[str, tuple[int, ...]] | None = None,
) -> list[FleetRow]:
    """The rows of these snapshots; `newest` (per kind) is what "outdated" compares with,
    by default the newest among the snapshots themselves."""
    if newest is None:
        newest = newest_versions(
            (s.status.kind.value, s.status.software_version) for s in snapshots if s.status
        )
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
            software = _version_key(s.status.software_version) >= newest.get(
                s.status.kind.value, ()
            )
        manifest = None
        if s.info is not None and s.info.expected_manifest_version and s.status is not None:
            manifest = s.status.manifest_version == s.info.expected_manifest_version
        rows.append(FleetRow(s, findings, online, software, manifest))
    return rows


HISTORY_HOURS = {"6": 6, "24": 24, "168": 168}


def device_charts(history: Sequence[Health], rules: AlertRules, zone: tzinfo) -> dict[str, Any]:
    """A device's temperature, load and outbox over time, against IT's thresholds."""
    return {
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


def ago(at: datetime | None, now: datetime) -> str:
    if at is None:
        return "never"
    seconds = int((now - at).total_seconds())
    if seconds < 90:
        return "just now" if seconds < 10 else f"{seconds} s ago"
    if seconds < 90 * 60:
        return f"{seconds // 60} min ago"
    if seconds < 36 * 3600:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"
