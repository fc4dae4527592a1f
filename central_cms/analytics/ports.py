"""The ports of the analytics back end: where events go, what they were acknowledged
with, where fleet state goes.

`EventStore` has two real implementations (SQLite, the embedded default, and InfluxDB
2.x) and answers the staff reports; `AckLedger` (SQLite) keeps, per device outbox epoch,
the acknowledgement watermark and the seqs stored above it, for an event store that
keeps its events elsewhere (InfluxDB); `FleetStore` (SQLite) keeps the device directory,
the latest retained status, bounded health history, command results and the alert
rules' thresholds for IT.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from central_cms.analytics.feedback import FeedbackRow
from central_cms.analytics.health_rules import AlertRules, Finding
from central_cms.analytics.model import (
    BatchOutcome,
    DeviceInfo,
    DeviceSnapshot,
    Filters,
    FleetFilter,
    FleetPage,
)
from central_cms.analytics.proof_of_play import ScreenPlay
from central_cms.analytics.reports import Metric, Overview, Report, build_report
from devices.protocol import CommandResult, Health, Status
from devices.protocol.acks import SeqRange
from devices.protocol.events_wire import Batch


class EventStore(Protocol):
    def store_batches(
        self, batches: Sequence[tuple[Batch, DeviceInfo | None]]
    ) -> list[BatchOutcome]:
        """Store the batches durably (one batch is all or nothing) and return, per batch,
        the contiguous watermark the device may be acknowledged with. Only returns once
        the write is durable; raises if it is not."""
        ...

    def metrics(self, filters: Filters) -> list[Metric]:
        """Daily metrics for the filters, from raw events and rollups alike."""
        ...

    def overview(self, filters: Filters, rows_shown: int) -> Overview:
        """What the analytics page shows: `reports.overview(report(self, filters),
        rows_shown)`, summed where the rows are if the store can."""
        ...

    def screen_plays(
        self, filters: Filters, device_ids: Sequence[str] | None = None
    ) -> list[ScreenPlay]:
        """Plays per local day, screen and item (`proof_of_play`) for the filters (campaign
        "": alerts and default content), on `device_ids` only if given."""
        ...

    def airtime(
        self, campaign_id: str, start: datetime, stop: datetime, site_id: str | None = None
    ) -> dict[datetime, float]:
        """Seconds of the campaign shown per clock hour (by its UTC start) in [start, stop),
        for share of voice (`analytics.airtime`)."""
        ...

    def close(self) -> None: ...


class AckLedger(Protocol):
    def ledger_known(self, device_id: str, epoch: str, seqs: Sequence[int]) -> set[int]:
        """Which of `seqs` are stored already."""
        ...

    def ledger_add(
        self, device_id: str, epoch: str, seqs: Sequence[int], dropped: Sequence[SeqRange] = ()
    ) -> int:
        """Record seqs durably stored elsewhere, and those the device dropped unsent;
        returns the contiguous watermark."""
        ...

    def record_first_visits(self, visits: Iterable[tuple[str, str, str]]) -> None:
        """(site, visitor hash, local day) of Wi-Fi joins, for returning visitors."""
        ...

    def first_visit_days(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """The first local day each (site, visitor hash) joined the Wi-Fi there."""
        ...


class FeedbackStore(Protocol):
    """Visitors' feedback (issue 16), on SQLite whichever event store is in use."""

    def store_feedback(self, rows: Sequence[FeedbackRow]) -> None: ...

    def feedback(self, filters: Filters) -> list[FeedbackRow]: ...

    def feedback_site(self, event_id: str) -> str | None: ...

    def delete_comment(self, event_id: str, deleted_by: str) -> bool: ...

    def prune_feedback(self, older_than: datetime) -> int: ...


def report(store: EventStore, filters: Filters) -> Report:
    return build_report(store.metrics(filters))


class FleetStore(Protocol):
    def register_devices(self, devices: Iterable[DeviceInfo]) -> None:
        """Create or update devices in the directory (the CMS calls this)."""
        ...

    def device(self, device_id: str) -> DeviceInfo | None: ...

    def record_status(self, status: Status, received_at: datetime) -> None: ...

    def record_health(self, samples: Sequence[Health], received_at: datetime) -> None: ...

    def record_command_result(self, result: CommandResult, received_at: datetime) -> None: ...

    def record_seen(self, device_ids: Iterable[str], at: datetime) -> None: ...

    def record_dropped(self, device_id: str, dropped_total: int) -> None: ...

    def fleet(self) -> list[DeviceSnapshot]: ...

    def snapshots(self, device_ids: Sequence[str]) -> list[DeviceSnapshot]:
        """Just these devices (those known), in the order asked."""
        ...

    def fleet_page(
        self,
        rules: AlertRules,
        now: datetime,
        chosen: FleetFilter,
        number: int,
        size: int,
        worst: int,
    ) -> FleetPage:
        """Page `number` of `size` of the devices `chosen` selects, in its order, the
        `worst` worst of them with problems, and the counts of all it selects (by the
        same rules as `health_rules.evaluate`)."""
        ...

    def health_history(self, device_id: str, since: datetime) -> list[Health]: ...

    def command_results(self, device_id: str, limit: int = 20) -> list[CommandResult]: ...

    def latest_command_results(
        self, device_ids: Sequence[str], per_device: int
    ) -> dict[str, list[CommandResult]]:
        """Each device's newest `per_device` results, newest first (those with any)."""
        ...

    def prune_health(self, older_than: datetime) -> int: ...

    def alert_rules(self) -> AlertRules:
        """The thresholds IT saved, or the defaults while none are saved."""
        ...

    def save_alert_rules(self, rules: AlertRules) -> None:
        """Replace the saved thresholds; the CMS pages and the ingest's notifier read them."""
        ...

    def claim_monitor(self, owner: str, now: datetime, lease: timedelta) -> list[Finding] | None:
        """Take or renew the health monitor's lease for `owner` and return the findings
        the last holder had raised; None while another owner's lease runs. Several
        ingest processes share one fleet store, and only one of them should notify."""
        ...

    def save_monitor_state(self, owner: str, active: Sequence[Finding]) -> None:
        """The findings `owner` has raised, for whoever holds the lease next."""
        ...
