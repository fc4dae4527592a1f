"""/fleet: IT's device health (what the Device health page shows, a page of 50 at a time),
each device's latest command results, and its latest screenshot."""

from __future__ import annotations

from typing import Any

from apiflask.schemas import FileSchema
from flask import Response

from central_cms.analytics.model import FleetFilter
from central_cms.analytics.presenters import FleetRow, fleet_rows, newest_versions
from central_cms.api.blueprint import actor, api, operation
from central_cms.api.schemas import DeviceHealthOut, FleetOut, FleetQuery
from central_cms.errors import NotFound
from central_cms.paging import PAGE_SIZE, Page
from central_cms.policy import Permission, require
from central_cms.runtime import parts, runtime
from central_cms.screens import screenshot_png

# As on the staff pages: the people who register devices see their health.
FLEET_PERMISSION = Permission.DEVICE_WRITE


def row_json(row: FleetRow) -> dict[str, Any]:
    s, health = row.snapshot, row.snapshot.health
    return {
        "device_id": s.device_id,
        "site_id": s.info.site_id if s.info else None,
        "kind": s.info.kind if s.info else (s.status.kind.value if s.status else None),
        "online": row.online,
        "worst": row.worst,
        "findings": [
            {"rule": f.rule, "level": f.level.value, "message": f.message} for f in row.findings
        ],
        "last_seen": s.last_seen.isoformat() if s.last_seen else None,
        "software_version": s.status.software_version if s.status else None,
        "software_current": row.software_current,
        "manifest_version": s.status.manifest_version if s.status else None,
        "manifest_current": row.manifest_current,
        "temperature_c": health.temperature_c if health else None,
        "disk_used_percent": health.disk_used_percent if health else None,
        "memory_used_percent": health.memory_used_percent if health else None,
        "events_lost": s.events_lost,
    }


@operation("GET", "/fleet")
@api.input(FleetQuery, location="query", arg_name="query")
@api.output(FleetOut)
def fleet_health(query: dict[str, Any]) -> Any:
    """One page of the fleet, filtered and sorted as on Device health."""
    require(actor(), FLEET_PERMISSION)
    analytics, now = parts().analytics, runtime().clock.now()
    store = analytics.stores.fleet
    chosen = FleetFilter(query["site"], query["kind"], query["state"], query["sort"])
    found = store.fleet_page(analytics.rules, now, chosen, query["page"], PAGE_SIZE, 0)
    rows = fleet_rows(
        store.snapshots(found.device_ids), analytics.rules, now, newest_versions(found.versions)
    )
    return {
        "devices": found.counts.devices,
        "online": found.counts.online,
        "problems": found.counts.problems,
        "page": found.number,
        "pages": Page(found.number, found.counts.devices).count,
        "rows": [row_json(r) for r in rows],
    }


@operation("GET", "/fleet/<device_id>", errors=(404,))
@api.output(DeviceHealthOut)
def device_health(device_id: str) -> Any:
    """One device's health and its latest command results (newest first)."""
    require(actor(), FLEET_PERMISSION)
    analytics, now = parts().analytics, runtime().clock.now()
    store = analytics.stores.fleet
    found = store.snapshots([device_id])
    if not found:
        raise NotFound(f"device {device_id}")
    (row,) = fleet_rows(found, analytics.rules, now)
    results = store.command_results(device_id, limit=20)
    return {
        "device": row_json(row),
        "command_results": [
            {
                "command_id": r.command_id,
                "ok": r.ok,
                "detail": r.detail,
                "at": r.at.isoformat(),
                "screenshot": isinstance(r.data.get("png_base64"), str),
            }
            for r in results
        ],
    }


@operation("GET", "/fleet/<device_id>/screenshot", errors=(404,))
@api.output(
    FileSchema(type="string", format="binary"),
    content_type="image/png",
    description="The device's latest screenshot (ask for one: POST /devices/{id}/commands "
    '{"name": "screenshot"})',
)
def device_screenshot(device_id: str) -> Any:
    require(actor(), FLEET_PERMISSION)
    store = parts().analytics.stores.fleet
    png = screenshot_png(store.command_results(device_id, limit=10), None)
    if png is None:
        raise NotFound(f"a screenshot of {device_id}")
    return Response(png, mimetype="image/png", headers={"Cache-Control": "no-store"})
