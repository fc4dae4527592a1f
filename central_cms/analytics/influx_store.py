"""The InfluxDB 2.x event store, through `influxdb-client`.

Durable means the write call returned: we use the synchronous write API, one request
per chunk of points, with the client's `WritesRetry` (exponential back-off with
jitter, honouring Retry-After). The client's default batching API writes in a
background thread and reports failures only through callbacks, so an ack sent after
handing it points would promise what it has not stored.

Points (tags bounded by the fleet and the content catalogue; no per-visitor tag):

- ``play``: tags site, device, campaign (``none`` for default content), item,
  outcome; fields shown_s, scheduled_s, seq.
- ``portal``: tags site, device, type (``terms_accepted``, ``session_ended``,
  ``promo_shown``, ...), campaign, item; fields count, seq, dwell_s (sessions) and
  visitor_hash (a keyed hash, as a field).
- ``device_health``: tags device, site, kind; numeric health fields.

A point is identified by measurement, tags and time; the time is the event's
millisecond instant plus `seq mod 10^6` nanoseconds, so two events never collide and a
re-send overwrites itself. The watermark and the seqs stored above it live in an
`AckLedger` (the small SQLite state file) shared by every ingest process.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write.retry import WritesRetry
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.domain.write_precision import WritePrecision

from central_cms.analytics.model import (
    UNASSIGNED,
    BatchOutcome,
    DeviceInfo,
    DeviceLookup,
    EventRow,
    Filters,
    flatten,
)
from central_cms.analytics.ports import AckLedger
from central_cms.analytics.proof_of_play import ScreenPlay
from central_cms.analytics.reports import (
    PLAYS,
    SCHEDULED_S,
    SHOWN_S,
    Metric,
    Overview,
    build_report,
    daily_rollups,
    overview,
)
from devices.protocol import EventType, Health
from devices.protocol.events_wire import Batch, PlayEvent

log = logging.getLogger(__name__)

_CHUNK_POINTS = 5000
_NO_CAMPAIGN = "none"
# Measurements: plays, and the portal's events with their type less this prefix as a tag.
_PLAY = "play"
_PORTAL = "portal"
_PORTAL_PREFIX = "portal."


@dataclass(frozen=True)
class InfluxSettings:
    url: str
    org: str
    token: str
    bucket: str
    timeout_ms: int = 30_000
    retries: int = 5
    retry_interval_s: float = 1.0
    max_retry_delay_s: float = 30.0
    # Staff read days in one time zone per installation (the city's).
    report_timezone: str = "UTC"


def _flux_string(value: str) -> str:
    """A Flux string literal (values from filters are ids, but quote them properly)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


def _escape_key(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def line(
    measurement: str,
    tags: Sequence[tuple[str, str]],
    fields: Sequence[tuple[str, float | int | str]],
    time_ns: int,
) -> str:
    """One point in InfluxDB line protocol (empty tag values are left out, as the
    protocol requires)."""
    head = measurement.replace(",", "\\,").replace(" ", "\\ ")
    tag_text = "".join(f",{_escape_key(k)}={_escape_key(v)}" for k, v in sorted(tags) if v)
    parts = []
    for key, value in fields:
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int):
            text = f"{value}i"
        elif isinstance(value, float):
            text = repr(value)
        else:
            text = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        parts.append(f"{_escape_key(key)}={text}")
    return f"{head}{tag_text} {','.join(parts)} {time_ns}"


def event_lines(batch: Batch, rows: Sequence[EventRow], device: DeviceInfo | None) -> list[str]:
    """The points for the (new) rows of one batch, as line protocol."""
    site = (device.site_id if device else UNASSIGNED) or "unassigned"
    # Alert plays are told apart from default content in the reports (issue 17).
    alerts = {
        e.seq: e.data.alert_id for e in batch.events if isinstance(e, PlayEvent) and e.data.alert_id
    }
    lines = []
    for row in rows:
        seq = row.seq
        at_ns = row.at_ms * 1_000_000 + seq % 1_000_000
        fields: list[tuple[str, float | int | str]]
        if row.type == EventType.PLAY:
            tags = [
                ("site", site),
                ("device", batch.device_id),
                ("campaign", row.campaign_id or _NO_CAMPAIGN),
                ("item", row.item_id or ""),
                ("outcome", row.outcome or ""),
                ("alert", alerts.get(seq, "")),
            ]
            fields = [
                ("shown_s", float(row.shown_s or 0.0)),
                ("scheduled_s", float(row.scheduled_s or 0.0)),
                ("seq", seq),
            ]
            lines.append(line(_PLAY, tags, fields, at_ns))
            continue
        tags = [
            ("site", site),
            ("device", batch.device_id),
            ("type", row.type.removeprefix(_PORTAL_PREFIX)),
            ("campaign", row.campaign_id or _NO_CAMPAIGN),
            ("item", row.item_id or ""),
        ]
        fields = [("count", 1), ("seq", seq)]
        if row.visitor_hash:
            fields.append(("visitor_hash", row.visitor_hash))
        if row.dwell_s is not None:
            fields.append(("dwell_s", float(row.dwell_s)))
        lines.append(line(_PORTAL, tags, fields, at_ns))
    return lines


_HEALTH_FIELDS = (
    "uptime_s",
    "cpu_percent",
    "load_1m",
    "memory_used_percent",
    "memory_available_bytes",
    "disk_used_percent",
    "disk_free_bytes",
    "temperature_c",
    "outbox_pending",
    "outbox_dropped",
)


def health_line(sample: Health, device: DeviceInfo | None) -> str:
    tags = [
        ("device", sample.device_id),
        ("site", device.site_id if device else "unassigned"),
        ("kind", device.kind if device else ""),
    ]
    fields: list[tuple[str, float | int | str]] = [
        (name, float(getattr(sample, name)))
        for name in _HEALTH_FIELDS
        if getattr(sample, name) is not None
    ]
    if sample.throttling is not None:
        fields.append(("throttled", int(sample.throttling.raw)))
    return line("device_health", tags, fields, int(sample.at.timestamp() * 1000) * 1_000_000)


class InfluxStore:
    """`EventStore` on InfluxDB 2.x; `ledger` keeps the watermarks and first visits,
    `devices` tags the health samples with their site and kind."""

    def __init__(
        self,
        settings: InfluxSettings,
        *,
        ledger: AckLedger,
        devices: DeviceLookup,
        client: InfluxDBClient | None = None,
    ) -> None:
        self.settings = settings
        self.ledger = ledger
        self._devices = devices
        self._client = client or InfluxDBClient(
            url=settings.url,
            token=settings.token,
            org=settings.org,
            timeout=settings.timeout_ms,
            retries=WritesRetry(
                total=settings.retries,
                retry_interval=settings.retry_interval_s,
                max_retry_delay=settings.max_retry_delay_s,
                exponential_base=2,
                jitter_interval=500,
            ),
        )
        self._write = self._client.write_api(write_options=SYNCHRONOUS)

    def close(self) -> None:
        self._write.close()  # type: ignore[no-untyped-call]
        self._client.close()  # type: ignore[no-untyped-call]

    def write_lines(self, lines: Sequence[str]) -> None:
        """Write and return only when the server accepted every point (else raise)."""
        for start in range(0, len(lines), _CHUNK_POINTS):
            self._write.write(
                bucket=self.settings.bucket,
                org=self.settings.org,
                record="\n".join(lines[start : start + _CHUNK_POINTS]),
                write_precision=WritePrecision.NS,  # type: ignore[arg-type]
            )

    def store_batches(
        self, batches: Sequence[tuple[Batch, DeviceInfo | None]]
    ) -> list[BatchOutcome]:
        plans = []
        lines: list[str] = []
        for batch, device in batches:
            seqs = [event.seq for event in batch.events]
            known = self.ledger.ledger_known(batch.device_id, batch.outbox_epoch, seqs)
            rows = flatten([e for e in batch.events if e.seq not in known], device)
            lines += event_lines(batch, rows, device)
            plans.append((batch, device, rows))
        self.write_lines(lines)  # raises unless the server stored all of them
        outcomes = []
        visits = []
        for batch, _device, rows in plans:
            up_to = self.ledger.ledger_add(
                batch.device_id,
                batch.outbox_epoch,
                [row.seq for row in rows],
                dropped=batch.dropped,
            )
            visits += [
                (r.site_id, r.visitor_hash, r.day)
                for r in rows
                if r.type == EventType.TERMS_ACCEPTED and r.visitor_hash
            ]
            outcomes.append(
                BatchOutcome(
                    device_id=batch.device_id,
                    outbox_epoch=batch.outbox_epoch,
                    inserted=len(rows),
                    duplicates=len(batch.events) - len(rows),
                    up_to_seq=up_to,
                )
            )
        if visits:
            self.ledger.record_first_visits(visits)
        return outcomes

    def record_health(self, samples: Sequence[Health]) -> None:
        self.write_lines([health_line(s, self._devices(s.device_id)) for s in samples])

    # --- reports ----------------------------------------------------------------------------

    def _range(self, filters: Filters) -> tuple[datetime, datetime, ZoneInfo]:
        zone = ZoneInfo(self.settings.report_timezone)
        start = datetime.combine(filters.start, time(0), zone)
        stop = datetime.combine(filters.end + timedelta(days=1), time(0), zone)
        return start, stop, zone

    def _query(self, flux: str) -> Iterable[dict[str, object]]:
        for table in self._client.query_api().query(flux, org=self.settings.org):
            for record in table.records:
                yield record.values

    def metrics(self, filters: Filters) -> list[Metric]:
        start, stop, zone = self._range(filters)
        narrow = ""
        if filters.site_id is not None:
            narrow += f" and r.site == {_flux_string(filters.site_id or 'unassigned')}"
        campaign = ""
        if filters.campaign_id is not None:
            campaign = f" and r.campaign == {_flux_string(filters.campaign_id)}"
        head = (
            f"from(bucket: {_flux_string(self.settings.bucket)})"
            f" |> range(start: {start.isoformat()}, stop: {stop.isoformat()})"
        )
        window = (
            f"every: 1d, location: {{zone: {_flux_string(zone.key)}, offset: 0h}}, "
            'createEmpty: false, timeSrc: "_start"'
        )
        out: list[Metric] = []
        plays_flux = (
            f'{head} |> filter(fn: (r) => r._measurement == "{_PLAY}"{narrow}{campaign})'
            ' |> filter(fn: (r) => r._field == "shown_s" or r._field == "scheduled_s")'
            ' |> group(columns: ["site", "campaign", "_field"])'
        )
        for fn, fields in (("sum", (SHOWN_S, SCHEDULED_S)), ("count", (PLAYS,))):
            for v in self._query(f"{plays_flux} |> aggregateWindow(fn: {fn}, {window})"):
                field = str(v["_field"])
                if fn == "count" and field != "shown_s":
                    continue
                metric = fields[0] if fn == "count" else field
                out.append(
                    (
                        _local_day(v["_time"], zone),
                        _site(v["site"]),
                        _campaign(v["campaign"]),
                        "",
                        metric,
                        float(v["_value"] or 0),  # type: ignore[arg-type]
                    )
                )
        portal_flux = (
            f'{head} |> filter(fn: (r) => r._measurement == "{_PORTAL}"{narrow})'
            ' |> pivot(rowKey: ["_time", "device"], columnKey: ["_field"], valueColumn: "_value")'
            " |> group()"
        )
        rows: list[EventRow] = []
        for v in self._query(portal_flux):
            kind = _PORTAL_PREFIX + str(v["type"])
            if (
                filters.campaign_id is not None
                and kind in (EventType.PROMO_SHOWN, EventType.PROMO_CLICKED)
                and v.get("campaign") != filters.campaign_id
            ):
                continue
            dwell = v.get("dwell_s")
            visitor = v.get("visitor_hash")
            rows.append(
                EventRow(
                    0,
                    "",
                    0,
                    _local_day(v["_time"], zone),
                    kind,
                    _site(v["site"]),
                    campaign_id=_campaign(v.get("campaign")) or None,
                    item_id=str(v.get("item") or "") or None,
                    visitor_hash=str(visitor) if visitor else None,
                    dwell_s=float(dwell) if isinstance(dwell, int | float) else None,
                )
            )
        first = self.ledger.first_visit_days(
            (r.site_id, r.visitor_hash)
            for r in rows
            if r.type == EventType.TERMS_ACCEPTED and r.visitor_hash
        )
        out += daily_rollups(rows, first)
        return out

    def overview(self, filters: Filters, rows_shown: int) -> Overview:
        # The shared pure fallback: the same figures SQLite sums in SQL.
        return overview(build_report(self.metrics(filters)), rows_shown)

    def screen_plays(
        self, filters: Filters, device_ids: Sequence[str] | None = None
    ) -> list[ScreenPlay]:
        """Plays per day of the report zone, screen and item, summed by Flux."""
        start, stop, zone = self._range(filters)
        narrow = ""
        if filters.site_id is not None:
            narrow += f" and r.site == {_flux_string(filters.site_id or 'unassigned')}"
        if filters.campaign_id is not None:
            narrow += f" and r.campaign == {_flux_string(filters.campaign_id or _NO_CAMPAIGN)}"
        flux = (
            f"from(bucket: {_flux_string(self.settings.bucket)})"
            f" |> range(start: {start.isoformat()}, stop: {stop.isoformat()})"
            f' |> filter(fn: (r) => r._measurement == "{_PLAY}"{narrow})'
            ' |> filter(fn: (r) => r._field == "shown_s" or r._field == "scheduled_s")'
            ' |> group(columns: ["site", "device", "campaign", "item", "alert", "_field"])'
        )
        window = (
            f"every: 1d, location: {{zone: {_flux_string(zone.key)}, offset: 0h}}, "
            'createEmpty: false, timeSrc: "_start"'
        )
        wanted = set(device_ids) if device_ids is not None else None
        sums: dict[tuple[str, str, str, str, str, str], list[float]] = {}
        for fn in ("sum", "count"):
            for v in self._query(f"{flux} |> aggregateWindow(fn: {fn}, {window})"):
                device = str(v.get("device") or "")
                if wanted is not None and device not in wanted:
                    continue
                key = (
                    _local_day(v["_time"], zone),
                    _site(v.get("site")),
                    device,
                    _campaign(v.get("campaign")),
                    str(v.get("item") or ""),
                    str(v.get("alert") or ""),
                )
                totals = sums.setdefault(key, [0.0, 0.0, 0.0])
                value = float(v["_value"] or 0)  # type: ignore[arg-type]
                if fn == "count":
                    if v["_field"] == "shown_s":
                        totals[0] = value
                else:
                    totals[1 if v["_field"] == "shown_s" else 2] = value
        return [ScreenPlay(*key, int(t[0]), t[1], t[2]) for key, t in sorted(sums.items())]

    def airtime(
        self, campaign_id: str, start: datetime, stop: datetime, site_id: str | None = None
    ) -> dict[datetime, float]:
        """Seconds of `campaign_id` shown per clock hour of the report zone. A point's time
        is when the play was recorded, so a play crossing an hour counts in the later one
        (the SQLite store counts it where it started, as the player does)."""
        site = "" if site_id is None else f" and r.site == {_flux_string(site_id)}"
        zone = _flux_string(self.settings.report_timezone)
        flux = (
            f"from(bucket: {_flux_string(self.settings.bucket)})"
            f" |> range(start: {start.isoformat()}, stop: {stop.isoformat()})"
            f' |> filter(fn: (r) => r._measurement == "{_PLAY}"'
            f" and r.campaign == {_flux_string(campaign_id)}{site})"
            ' |> filter(fn: (r) => r._field == "shown_s") |> group()'
            f" |> aggregateWindow(fn: sum, every: 1h, location: {{zone: {zone}, offset: 0h}},"
            ' createEmpty: false, timeSrc: "_start")'
        )
        out: dict[datetime, float] = {}
        for v in self._query(flux):
            at = v["_time"]
            if isinstance(at, datetime):
                out[at.astimezone(UTC)] = float(v["_value"] or 0)  # type: ignore[arg-type]
        return out


def _local_day(value: object, zone: ZoneInfo) -> str:
    if not isinstance(value, datetime):
        raise TypeError(f"expected a time, got {value!r}")
    return value.astimezone(zone).date().isoformat()


def _site(value: object) -> str:
    return "" if value in (None, "unassigned") else str(value)


def _campaign(value: object) -> str:
    return "" if value in (None, _NO_CAMPAIGN) else str(value)
