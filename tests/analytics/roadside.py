"""One roadside screen (sig-road-01) as the health rules see it: its directory entry and
the status and health messages it sends, for the rule and alert-page tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from central_cms.analytics.model import DeviceInfo
from devices.protocol import DeviceKind, DeviceState, Health, Status

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
INFO = DeviceInfo(
    "sig-road-01",
    "great-eastern-hwy",
    "signage",
    "Australia/Perth",
    expected_manifest_version=7,
    manifest_published_at=NOW - timedelta(hours=1),
)


def status(
    state: DeviceState = DeviceState.ONLINE, manifest_version: int = 7, at: datetime = NOW
) -> Status:
    return Status(
        device_id="sig-road-01",
        kind=DeviceKind.SIGNAGE,
        state=state,
        software_version="1.4.0",
        manifest_version=manifest_version,
        at=at,
    )


def health(**changes: Any) -> Health:
    fields = dict(
        device_id="sig-road-01",
        at=NOW,
        uptime_s=10,
        cpu_percent=5,
        load_1m=0.1,
        memory_used_percent=30,
        memory_available_bytes=10**9,
        disk_used_percent=40,
        disk_free_bytes=10**10,
        net_bytes_sent=0,
        net_bytes_recv=0,
        temperature_c=55.0,
    )
    fields.update(changes)
    return Health(**fields)
