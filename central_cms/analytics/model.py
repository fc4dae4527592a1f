"""Values the analytics store keeps and answers with; pure, no I/O.

An event from a device is known by (device, outbox epoch, seq): the outbox assigns
that key together with the event id, every re-send carries both, and the key ascends
with time per device. `EventRow` is one event as a named flat row (the InfluxDB store's
points), keyed `stream << 32 | seq` where the stream numbers a (device, epoch) pair.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

from devices.protocol import Health, Status
from devices.protocol.events_wire import (
    Event,
    PlayEvent,
    PromoClickedEvent,
    PromoShownEvent,
    SessionEndedEvent,
    SplashShownEvent,
    TermsAcceptedEvent,
)

UNASSIGNED = ""  # site of a device the directory does not know (yet)


@dataclass(frozen=True)
class DeviceInfo:
    """What the CMS knows about a device: where it is and what it should run."""

    device_id: str
    site_id: str
    kind: str
    timezone: str = "UTC"
    name: str = ""
    expected_manifest_version: int | None = None
    manifest_published_at: datetime | None = None  # when that version was published


@dataclass(frozen=True)
class DeviceSnapshot:
    """One row of the fleet page: what the CMS knows and what the device last said."""

    device_id: str
    info: DeviceInfo | None
    status: Status | None
    status_received_at: datetime | None
    health: Health | None
    last_seen: datetime | None
    outbox_dropped_total: int = 0
    # Events the device dropped unsent (outbox budget) that the store never received.
    events_lost: int = 0


@dataclass(frozen=True)
class BatchOutcome:
    """What storing one batch did, and the ack it earns."""

    device_id: str
    outbox_epoch: str
    inserted: int
    duplicates: int
    up_to_seq: int


@dataclass(frozen=True)
class Filters:
    """Staff filters: local days `start`..`end` inclusive, optionally one site/campaign."""

    start: date
    end: date
    site_id: str | None = None
    campaign_id: str | None = None


SEQ_BITS = 32  # seqs per outbox epoch: four billion events before a device re-keys
MAX_SEQ = (1 << SEQ_BITS) - 1


class EventRow(NamedTuple):
    """One event as a flat row; the fields an event type has no use for are None."""

    key: int  # stream << SEQ_BITS | seq
    event_id: str
    at_ms: int
    day: str  # the site's local day
    type: str  # an EventType (a plain string when read back from SQLite)
    site_id: str
    campaign_id: str | None = None
    item_id: str | None = None
    visitor_hash: str | None = None
    shown_s: float | None = None
    scheduled_s: float | None = None
    dwell_s: float | None = None
    outcome: str | None = None

    @property
    def seq(self) -> int:
        return self.key & MAX_SEQ


EVENT_COLUMNS = EventRow._fields


@lru_cache(maxsize=256)
def _zone(name: str) -> tzinfo:
    return UTC if name == "UTC" else ZoneInfo(name)


class LocalDays:
    """The site's calendar day of instants in one zone (staff read days in the site's wall
    clock), converting once per 15 minutes: every UTC offset in use is a multiple of 15
    minutes, so the local date is the same throughout a 15-minute UTC slot."""

    def __init__(self, timezone: str) -> None:
        self._zone = _zone(timezone)
        self._days: dict[int, str] = {}

    def of(self, at: datetime) -> str:
        slot = int(at.timestamp()) // 900
        day = self._days.get(slot)
        if day is None:
            day = self._days[slot] = at.astimezone(self._zone).date().isoformat()
        return day


def site_of(device: DeviceInfo | None) -> tuple[str, str]:
    """(site id, time zone) to file a device's events under."""
    return (device.site_id, device.timezone) if device else (UNASSIGNED, "UTC")


def flatten(
    events: Iterable[Event], device: DeviceInfo | None, *, stream: int = 0
) -> list[EventRow]:
    """One row per event; the site and its local day come from the device directory."""
    site_id, timezone = site_of(device)
    days = LocalDays(timezone)
    base = stream << SEQ_BITS
    rows: list[EventRow] = []
    append = rows.append
    for event in events:
        if event.seq > MAX_SEQ:
            raise ValueError(f"seq {event.seq} is beyond {MAX_SEQ}: start a new outbox epoch")
        at = event.at
        at_ms = int(at.timestamp() * 1000)
        row = EventRow(base | event.seq, event.id, at_ms, days.of(at), event.TYPE, site_id)
        if isinstance(event, PlayEvent):
            play = event.data
            append(
                row._replace(
                    campaign_id=play.campaign_id,
                    item_id=play.item_id,
                    shown_s=play.shown_s,
                    scheduled_s=play.scheduled_s,
                    outcome=play.outcome,
                )
            )
        elif isinstance(event, SplashShownEvent | TermsAcceptedEvent):
            append(row._replace(visitor_hash=event.data.visitor_hash))
        elif isinstance(event, PromoShownEvent | PromoClickedEvent):
            append(row._replace(campaign_id=event.data.campaign_id, item_id=event.data.item_id))
        elif isinstance(event, SessionEndedEvent):
            append(row._replace(dwell_s=event.data.duration_s))
    return rows


DeviceLookup = Callable[[str], DeviceInfo | None]


# --- one page of the fleet (issue 17) ------------------------------------------------------


@dataclass(frozen=True)
class FleetFilter:
    site: str = ""
    kind: str = ""
    state: str = ""  # "", "online", "offline" or "problems"
    sort: str = "problems"


@dataclass(frozen=True)
class FleetCounts:
    devices: int
    online: int
    problems: int  # findings, all told
    with_problems: int  # devices with at least one


@dataclass(frozen=True)
class FleetPage:
    device_ids: list[str]  # the page's devices, in the chosen order
    worst_ids: list[str]  # the worst of the chosen devices with problems, worst first
    counts: FleetCounts  # of every chosen device
    number: int  # the page given (the last one, when asked for one past the end)
    sites: list[str]  # every site and kind with a device, for the filter menus
    kinds: list[str]
    versions: list[tuple[str, str]]  # (kind, software version) reported, for "newest"
