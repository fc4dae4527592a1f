"""The fleet store (`FleetStore`) on the SQLite file: the device directory, the latest
status and health per device, bounded health history, command results, IT's alert
thresholds and the health monitor's lease."""

# SQL here is assembled only from constant column lists, placeholders and fixed filter
# clauses; every value is bound as a parameter.
# ruff: noqa: S608

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import fields
from datetime import UTC, datetime, timedelta

import msgspec

from central_cms.analytics.health_rules import AlertRules, AlertRulesError, Finding, Level
from central_cms.analytics.model import DeviceInfo, DeviceSnapshot, FleetFilter, FleetPage
from central_cms.analytics.sqlite_file import OnSqliteFile
from central_cms.analytics.sqlite_fleet_pages import FACTS_SET, fleet_page
from devices.protocol import CommandResult, Health, Status

log = logging.getLogger(__name__)


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _from_ms(at_ms: int | None) -> datetime | None:
    return None if at_ms is None else datetime.fromtimestamp(at_ms / 1000, UTC)


def record_dropped(conn: sqlite3.Connection, device_id: str, dropped_total: int) -> None:
    conn.execute(
        "INSERT INTO device_state (device_id, dropped_total) VALUES (?, ?) "
        "ON CONFLICT (device_id) DO UPDATE SET "
        "dropped_total = max(dropped_total, excluded.dropped_total)",
        (device_id, dropped_total),
    )


class SqliteFleetStore(OnSqliteFile):
    """`FleetStore` on the file."""

    def register_devices(self, devices: Iterable[DeviceInfo]) -> None:
        with self.db.transaction() as conn:
            conn.executemany(
                "INSERT INTO devices (device_id, site_id, kind, timezone, name, "
                "expected_manifest_version, manifest_published_ms) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (device_id) DO UPDATE SET site_id = excluded.site_id, "
                "kind = excluded.kind, timezone = excluded.timezone, name = excluded.name, "
                "expected_manifest_version = excluded.expected_manifest_version, "
                "manifest_published_ms = excluded.manifest_published_ms",
                [
                    (
                        d.device_id,
                        d.site_id,
                        d.kind,
                        d.timezone,
                        d.name,
                        d.expected_manifest_version,
                        _ms(d.manifest_published_at) if d.manifest_published_at else None,
                    )
                    for d in devices
                ],
            )

    def device(self, device_id: str) -> DeviceInfo | None:
        found = (
            self.db.conn()
            .execute(
                "SELECT device_id, site_id, kind, timezone, name, expected_manifest_version "
                "FROM devices WHERE device_id = ?",
                (device_id,),
            )
            .fetchone()
        )
        return DeviceInfo(*found) if found else None

    def record_status(self, status: Status, received_at: datetime) -> None:
        # Arrival order, not `status.at`: the last will is composed when the device
        # connects, so an "offline" will carries an older `at` than the "online" it ends.
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO device_state (device_id, status, status_received_ms, last_seen_ms) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET "
                "status = excluded.status, status_received_ms = excluded.status_received_ms, "
                "last_seen_ms = max(coalesce(last_seen_ms, 0), excluded.last_seen_ms)",
                (status.device_id, status.encode().decode(), _ms(received_at), _ms(received_at)),
            )
            conn.execute(
                f"UPDATE device_state SET {FACTS_SET} WHERE device_id = ?", (status.device_id,)
            )

    def record_health(self, samples: Sequence[Health], received_at: datetime) -> None:
        if not samples:
            return
        with self.db.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO health (device_id, at_ms, body) VALUES (?, ?, ?)",
                [(h.device_id, _ms(h.at), h.encode().decode()) for h in samples],
            )
            for sample in sorted(samples, key=lambda h: h.at):
                conn.execute(
                    "INSERT INTO device_state (device_id, health, last_seen_ms) VALUES (?, ?, ?) "
                    "ON CONFLICT (device_id) DO UPDATE SET health = CASE WHEN "
                    "health IS NULL "
                    "OR json_extract(health, '$.at') <= json_extract(excluded.health, '$.at') "
                    "THEN excluded.health ELSE health END, "
                    "last_seen_ms = max(coalesce(last_seen_ms, 0), excluded.last_seen_ms)",
                    (sample.device_id, sample.encode().decode(), _ms(received_at)),
                )
            conn.executemany(
                f"UPDATE device_state SET {FACTS_SET} WHERE device_id = ?",
                [(device_id,) for device_id in {h.device_id for h in samples}],
            )

    def record_command_result(self, result: CommandResult, received_at: datetime) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO command_results (device_id, command_id, at_ms, body) "
                "VALUES (?, ?, ?, ?)",
                (result.device_id, result.command_id, _ms(result.at), result.encode().decode()),
            )

    def record_seen(self, device_ids: Iterable[str], at: datetime) -> None:
        with self.db.transaction() as conn:
            conn.executemany(
                "INSERT INTO device_state (device_id, last_seen_ms) VALUES (?, ?) "
                "ON CONFLICT (device_id) DO UPDATE SET "
                "last_seen_ms = max(coalesce(last_seen_ms, 0), excluded.last_seen_ms)",
                [(device_id, _ms(at)) for device_id in set(device_ids)],
            )

    def record_dropped(self, device_id: str, dropped_total: int) -> None:
        with self.db.transaction() as conn:
            record_dropped(conn, device_id, dropped_total)

    def fleet(self) -> list[DeviceSnapshot]:
        return self._snapshots(None)

    def snapshots(self, device_ids: Sequence[str]) -> list[DeviceSnapshot]:
        """The snapshots of just these devices (a page's rows), in their order."""
        found = {s.device_id: s for s in self._snapshots(list(device_ids))}
        return [found[d] for d in device_ids if d in found]

    def fleet_page(
        self,
        rules: AlertRules,
        now: datetime,
        chosen: FleetFilter,
        number: int,
        size: int,
        worst: int,
    ) -> FleetPage:
        return fleet_page(self.db.conn(), rules, now, chosen, number, size, worst)

    def _snapshots(self, only: list[str] | None) -> list[DeviceSnapshot]:
        conn = self.db.conn()
        # Inside one read transaction, so the page's rows are of one moment.
        where, args = "", tuple[str, ...]()
        if only is not None:
            if not only:
                return []
            where = f" WHERE device_id IN ({','.join('?' * len(only))})"
            args = tuple(only)
        # With when the expected manifest was published: without it the rules' grace
        # period never applied, and every device was "behind" the moment one was.
        devices = {
            device_id: DeviceInfo(
                device_id, site_id, kind, timezone, name, expected, _from_ms(published_ms)
            )
            for device_id, site_id, kind, timezone, name, expected, published_ms in conn.execute(
                "SELECT device_id, site_id, kind, timezone, name, expected_manifest_version, "
                f"manifest_published_ms FROM devices{where}",
                args,
            )
        }
        states = {
            row[0]: row[1:]
            for row in conn.execute(
                "SELECT device_id, status, status_received_ms, health, last_seen_ms, "
                f"dropped_total FROM device_state{where}",
                args,
            )
        }
        lost = dict(
            conn.execute(
                f"SELECT device_id, sum(lost) FROM streams{where} GROUP BY device_id", args
            )
        )
        snapshots = []
        for device_id in sorted(set(devices) | set(states)):
            status, received_ms, health, seen_ms, dropped = states.get(
                device_id, (None, None, None, None, 0)
            )
            snapshots.append(
                DeviceSnapshot(
                    device_id=device_id,
                    info=devices.get(device_id),
                    status=Status.model_validate_json(status) if status else None,
                    status_received_at=_from_ms(received_ms),
                    health=Health.model_validate_json(health) if health else None,
                    last_seen=_from_ms(seen_ms),
                    outbox_dropped_total=dropped or 0,
                    events_lost=int(lost.get(device_id) or 0),
                )
            )
        return snapshots

    def health_history(self, device_id: str, since: datetime) -> list[Health]:
        return [
            Health.model_validate_json(body)
            for (body,) in self.db.conn().execute(
                "SELECT body FROM health WHERE device_id = ? AND at_ms >= ? ORDER BY at_ms",
                (device_id, _ms(since)),
            )
        ]

    def command_results(self, device_id: str, limit: int = 20) -> list[CommandResult]:
        return [
            CommandResult.model_validate_json(body)
            for (body,) in self.db.conn().execute(
                "SELECT body FROM command_results WHERE device_id = ? ORDER BY at_ms DESC LIMIT ?",
                (device_id, limit),
            )
        ]

    def latest_command_results(
        self, device_ids: Sequence[str], per_device: int
    ) -> dict[str, list[CommandResult]]:
        """Each device's newest `per_device` results, newest first, in one query."""
        if not device_ids:
            return {}
        found: dict[str, list[CommandResult]] = {}
        for device_id, body in self.db.conn().execute(
            "SELECT device_id, body FROM (SELECT device_id, body, row_number() OVER "
            "(PARTITION BY device_id ORDER BY at_ms DESC) AS n FROM command_results "
            f"WHERE device_id IN ({','.join('?' * len(device_ids))})) WHERE n <= ? "
            "ORDER BY device_id, n",
            (*device_ids, per_device),
        ):
            found.setdefault(device_id, []).append(CommandResult.model_validate_json(body))
        return found

    def prune_health(self, older_than: datetime) -> int:
        with self.db.transaction() as conn:
            removed = conn.execute(
                "DELETE FROM health WHERE at_ms < ?", (_ms(older_than),)
            ).rowcount
            conn.execute("DELETE FROM command_results WHERE at_ms < ?", (_ms(older_than),))
        return int(removed)

    def alert_rules(self) -> AlertRules:
        found = self.db.conn().execute("SELECT body FROM alert_rules WHERE id = 1").fetchone()
        if found is None:
            return AlertRules()
        try:
            saved = msgspec.json.decode(found[0])
            known = {f.name: saved[f.name] for f in fields(AlertRules) if f.name in saved}
            return AlertRules(**known)
        except (msgspec.DecodeError, TypeError, AlertRulesError) as error:
            # Saved rules are checked first, so only a hand edit or tighter limits in a
            # newer version get here; the pages show the defaults then, for IT to re-save.
            log.warning("saved alert rules unusable, using the defaults: %s", error)
            return AlertRules()

    def save_alert_rules(self, rules: AlertRules) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO alert_rules (id, body) VALUES (1, ?) "
                "ON CONFLICT (id) DO UPDATE SET body = excluded.body",
                (msgspec.json.encode(rules).decode(),),
            )

    def claim_monitor(self, owner: str, now: datetime, lease: timedelta) -> list[Finding] | None:
        with self.db.transaction() as conn:
            found = conn.execute(
                "SELECT owner, expires_ms, active FROM health_monitor WHERE id = 1"
            ).fetchone()
            if found is not None and found[0] != owner and found[1] > _ms(now):
                return None
            conn.execute(
                "INSERT INTO health_monitor (id, owner, expires_ms) VALUES (1, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, "
                "expires_ms = excluded.expires_ms",
                (owner, _ms(now + lease)),
            )
        return [
            Finding(device_id, rule, Level(level), message)
            for device_id, rule, level, message in msgspec.json.decode(found[2] if found else "[]")
        ]

    def save_monitor_state(self, owner: str, active: Sequence[Finding]) -> None:
        state = [(f.device_id, f.rule, f.level.value, f.message) for f in active]
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE health_monitor SET active = ? WHERE id = 1 AND owner = ?",
                (msgspec.json.encode(state).decode(), owner),
            )
