"""One page of the device-health table, chosen in SQL (issue 17, scale).

With 10,000 devices the page cannot decode every status and health sample and run the
rules over each in Python on every view. `device_state` keeps the few figures the rules
look at in columns (`FACT_COLUMNS`, written beside the JSON bodies), and `_RULES`
states the rules of `health_rules.evaluate` over them, so filters, sorting, counts and
paging run in SQLite; the page then decodes only its own rows and runs `evaluate` on them
for what it shows. tests/analytics/test_fleet_pages.py holds the two to the same answers.
"""

# SQL here is assembled only from constant column lists, placeholders and fixed filter
# clauses; every value is bound as a parameter.
# ruff: noqa: S608

from __future__ import annotations

import sqlite3
from datetime import datetime

from central_cms.analytics.health_rules import AlertRules
from central_cms.analytics.model import FleetCounts, FleetFilter, FleetPage

# Copied out of the latest status and health bodies whenever they change.
FACT_COLUMNS = {
    "state": "json_extract(status, '$.state')",
    "status_kind": "json_extract(status, '$.kind')",
    "software_version": "json_extract(status, '$.software_version')",
    "manifest_version": "json_extract(status, '$.manifest_version')",
    "temperature_c": "json_extract(health, '$.temperature_c')",
    "disk_percent": "json_extract(health, '$.disk_used_percent')",
    "memory_percent": "json_extract(health, '$.memory_used_percent')",
    "throttled_now": "(coalesce(json_extract(health, '$.throttling.raw'), 0) & 15) != 0",
}
FACTS_SET = ", ".join(f"{column} = {expression}" for column, expression in FACT_COLUMNS.items())


def add_fact_columns(conn: sqlite3.Connection) -> None:
    """Give a store made before these columns existed its columns, filled from the
    bodies it holds (once; idempotent)."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(device_state)")}
    missing = [c for c in FACT_COLUMNS if c not in have]
    if not missing:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        have = {row[1] for row in conn.execute("PRAGMA table_info(device_state)")}
        for column in (c for c in FACT_COLUMNS if c not in have):
            conn.execute(f"ALTER TABLE device_state ADD COLUMN {column}")
        conn.execute(f"UPDATE device_state SET {FACTS_SET}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


# Per device: one 0/1 column per rule of health_rules.evaluate, and the rows it yields.
# `never` short-cuts the rest, as evaluate returns early for a device never seen. The
# flags are computed once (MATERIALIZED): inlined, each use would evaluate them again.
_RULES = """
WITH base AS (
    SELECT ids.device_id, d.site_id, d.kind AS info_kind, d.expected_manifest_version,
           d.manifest_published_ms, s.status IS NOT NULL AS has_status, s.state,
           s.manifest_version, s.temperature_c, s.disk_percent, s.memory_percent,
           s.throttled_now, s.health IS NOT NULL AS has_health, s.last_seen_ms,
           s.status_received_ms,
           (s.last_seen_ms IS NULL AND s.status IS NULL) AS never
    FROM (SELECT device_id FROM devices UNION SELECT device_id FROM device_state) AS ids
    LEFT JOIN devices AS d ON d.device_id = ids.device_id
    LEFT JOIN device_state AS s ON s.device_id = ids.device_id
), flags AS MATERIALIZED (
    SELECT base.*,
        coalesce(NOT never AND :now_ms - CASE WHEN state = 'offline'
            THEN status_received_ms ELSE last_seen_ms END > :offline_ms, 0) AS f_offline,
        coalesce(NOT never AND temperature_c >= :temp_crit, 0) AS f_temp_crit,
        coalesce(NOT never AND temperature_c >= :temp_warn AND temperature_c < :temp_crit, 0)
            AS f_temp_warn,
        coalesce(NOT never AND disk_percent >= :disk_crit, 0) AS f_disk_crit,
        coalesce(NOT never AND disk_percent >= :disk_warn AND disk_percent < :disk_crit, 0)
            AS f_disk_warn,
        coalesce(NOT never AND memory_percent >= :memory_warn, 0) AS f_memory,
        coalesce(NOT never AND has_health AND throttled_now, 0) AS f_throttled,
        coalesce(NOT never AND expected_manifest_version IS NOT NULL AND state = 'online'
            AND coalesce(manifest_version, 0) < expected_manifest_version
            AND (manifest_published_ms IS NULL OR :now_ms - manifest_published_ms > :grace_ms),
            0) AS f_manifest
    FROM base
), rows AS (
    SELECT flags.*,
        never + f_offline + f_temp_crit + f_temp_warn + f_disk_crit + f_disk_warn + f_memory
            + f_throttled + f_manifest AS problems,
        CASE WHEN f_offline + f_temp_crit + f_disk_crit > 0 THEN 0
             WHEN never + f_temp_warn + f_disk_warn + f_memory + f_throttled + f_manifest > 0
             THEN 1 ELSE 2 END AS worst_rank,
        (has_status AND state = 'online' AND NOT f_offline) AS online
    FROM flags
)
"""

# health_rules' FLEET_SORTS, in SQL: the same keys, device id last so pages never overlap.
SORTS = {
    "device": "device_id",
    "site": "coalesce(site_id, ''), device_id",
    "kind": "coalesce(info_kind, ''), device_id",
    "state": "online, device_id",
    "problems": "worst_rank, device_id",
    "last_seen": "coalesce(last_seen_ms, 0), device_id",
    "temperature": "-coalesce(temperature_c, 0), device_id",
    "disk": "-coalesce(disk_percent, 0), device_id",
    "memory": "-coalesce(memory_percent, 0), device_id",
}


def _params(rules: AlertRules, now: datetime) -> dict[str, float]:
    return {
        "now_ms": now.timestamp() * 1000,
        "offline_ms": rules.offline_after_min * 60_000,
        "temp_warn": rules.temperature_warning_c,
        "temp_crit": rules.temperature_critical_c,
        "disk_warn": rules.disk_warning_percent,
        "disk_crit": rules.disk_critical_percent,
        "memory_warn": rules.memory_warning_percent,
        "grace_ms": rules.manifest_grace_min * 60_000,
    }


def _where(chosen: FleetFilter) -> tuple[str, dict[str, str]]:
    clauses, args = [], {}
    if chosen.site:
        clauses.append("site_id = :site")
        args["site"] = chosen.site
    if chosen.kind:
        clauses.append("info_kind = :kind")
        args["kind"] = chosen.kind
    if chosen.state in ("online", "offline"):
        clauses.append("online = 1" if chosen.state == "online" else "online = 0")
    elif chosen.state == "problems":
        clauses.append("problems > 0")
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


def fleet_page(
    conn: sqlite3.Connection,
    rules: AlertRules,
    now: datetime,
    chosen: FleetFilter,
    number: int,
    size: int,
    worst: int,
) -> FleetPage:
    """Page `number` (from 1; a page past the end gives the last) of `size` devices, the
    `worst` worst devices with problems, and the counts, from one pass of the rules.

    The pass goes into a temporary table of this connection (this thread's), which the
    counts and the two top-N sorts then read: cheaper than running the rules three times
    or numbering every row with window functions."""
    where, args = _where(chosen)
    conn.execute("DROP TABLE IF EXISTS temp.fleet_rows")
    conn.execute(
        f"CREATE TEMP TABLE fleet_rows AS {_RULES} SELECT device_id, site_id, info_kind, "
        "online, problems, worst_rank, last_seen_ms, temperature_c, disk_percent, "
        f"memory_percent FROM rows{where}",
        {**_params(rules, now), **args},
    )
    try:
        counts = FleetCounts(
            *(
                int(v or 0)
                for v in conn.execute(
                    "SELECT count(*), sum(online), sum(problems), sum(problems > 0) "
                    "FROM temp.fleet_rows"
                ).fetchone()
            )
        )
        number = min(max(number, 1), max(1, -(-counts.devices // size)))
        order = SORTS.get(chosen.sort, SORTS["problems"])
        page_ids = [
            r[0]
            for r in conn.execute(
                f"SELECT device_id FROM temp.fleet_rows ORDER BY {order} LIMIT ? OFFSET ?",
                (size, (number - 1) * size),
            )
        ]
        worst_ids = [
            r[0]
            for r in conn.execute(
                "SELECT device_id FROM temp.fleet_rows WHERE problems > 0 "
                "ORDER BY worst_rank, device_id LIMIT ?",
                (worst,),
            )
        ]
    finally:
        conn.execute("DROP TABLE temp.fleet_rows")
    sites = [r[0] for r in conn.execute("SELECT DISTINCT site_id FROM devices ORDER BY 1")]
    kinds = [r[0] for r in conn.execute("SELECT DISTINCT kind FROM devices ORDER BY 1")]
    versions = conn.execute(
        "SELECT DISTINCT status_kind, software_version FROM device_state WHERE status IS NOT NULL"
    ).fetchall()
    return FleetPage(
        device_ids=page_ids,
        worst_ids=worst_ids,
        counts=counts,
        number=number,
        sites=sites,
        kinds=kinds,
        versions=[tuple(v) for v in versions],
    )
