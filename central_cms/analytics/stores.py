"""Open the stores the ingest and the CMS use, from one URL.

- ``sqlite:///var/lib/digital-spaces/analytics.sqlite3`` (embedded default): events,
  rollups and fleet state in one file.
- ``influxdb://ORG:TOKEN@host:8086/BUCKET?state=/path/state.sqlite3`` (use
  ``influxdbs://`` for HTTPS): events and health samples in InfluxDB 2.x; the ack
  watermark and the fleet state in the small SQLite `state` file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from central_cms.analytics.ports import EventStore, FeedbackStore, FleetStore
from central_cms.analytics.sqlite_store import SqliteStore
from devices.protocol import Health


class StoreUrlError(ValueError):
    def __init__(self, url: str, problem: str, fix: str) -> None:
        super().__init__(f"--store {url!r}: {problem}. {fix}")


@dataclass(frozen=True)
class Stores:
    events: EventStore
    fleet: FleetStore
    # The file holding rollups to prune, when the events store is SQLite.
    sqlite: SqliteStore | None
    # Where health samples go besides the fleet store (InfluxDB, for Grafana).
    health_sink: Callable[[Sequence[Health]], None] | None = None
    # Visitors' feedback: the SQLite file (events or state) holds it (issue 16).
    feedback: FeedbackStore | None = None

    def close(self) -> None:
        self.events.close()
        if isinstance(self.fleet, SqliteStore) and self.fleet is not self.sqlite:
            self.fleet.close()


def open_stores(url: str) -> Stores:
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        if not parts.path or parts.path == "/":
            raise StoreUrlError(url, "no file", "write sqlite:///absolute/path.sqlite3")
        store = SqliteStore(Path(unquote(parts.path)))
        return Stores(events=store, fleet=store, sqlite=store, feedback=store)
    if parts.scheme in ("influxdb", "influxdbs"):
        from central_cms.analytics.influx_store import InfluxSettings, InfluxStore

        query = parse_qs(parts.query)
        state = query.get("state", [""])[0]
        bucket = parts.path.strip("/")
        if not (parts.hostname and parts.username and bucket and state):
            raise StoreUrlError(
                url,
                "incomplete InfluxDB URL",
                "write influxdb://ORG:TOKEN@host:8086/BUCKET?state=/path/state.sqlite3",
            )
        fleet = SqliteStore(Path(state))
        scheme = "https" if parts.scheme == "influxdbs" else "http"
        settings = InfluxSettings(
            url=f"{scheme}://{parts.hostname}:{parts.port or 8086}",
            org=unquote(parts.username),
            token=unquote(parts.password or ""),
            bucket=bucket,
            report_timezone=query.get("timezone", ["UTC"])[0],
        )
        events = InfluxStore(settings, ledger=fleet, devices=fleet.device)
        return Stores(
            events=events,
            fleet=fleet,
            sqlite=None,
            health_sink=events.record_health,
            feedback=fleet,
        )
    raise StoreUrlError(url, f"unknown scheme {parts.scheme!r}", "use sqlite:// or influxdb://")
