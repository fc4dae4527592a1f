"""The ingest: device events, health, status and command results into the stores.

Messages arrive on the MQTT link's thread and are only queued there; one writer
thread validates them, stores events in groups (one transaction for many batches),
and only after the store returned (the write is durable) publishes `events/ack` with
the watermark the store computed from what it holds. A batch the broker dropped
leaves a gap that the watermark never passes; the device re-sends it. Seqs the device
itself dropped unsent (its outbox budget) are listed in its batches: the store lets the
watermark pass them and counts them as lost (issue 13.4).

With a shared subscription (`$share/<group>/...`) several ingest processes split the
events of the fleet; since the watermark lives in the shared store, whichever process
gets a batch acknowledges exactly what is stored. Retained status is not delivered to
shared subscriptions (MQTT 5, 4.8.2), so every process subscribes to status plainly;
recording a status twice is harmless.

A message that does not parse, or speaks for another device than its topic names, is
counted and logged with the device and the reason; it never stops the ingest.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from central_cms.analytics.feedback import feedback_rows, without_comments
from central_cms.analytics.model import BatchOutcome, DeviceInfo
from central_cms.analytics.ports import EventStore, FeedbackStore, FleetStore
from central_cms.analytics.stores import Stores
from devices.clock import Clock, SystemClock
from devices.config import MqttSettings
from devices.link import MqttLink
from devices.protocol import (
    Channel,
    CommandResult,
    DeviceTopic,
    EventAck,
    Health,
    ProtocolError,
    Status,
    all_devices,
    device_topic,
    parse,
    parse_topic,
    shared,
)
from devices.protocol.events_wire import Batch, decode_batch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestSettings:
    mqtt: MqttSettings
    client_id: str = "ingest"
    # None subscribes plainly: for a broker without shared subscriptions, one process only.
    shared_group: str | None = "ingest"
    max_messages_per_write: int = 64
    max_bytes_per_write: int = 32 * 1024 * 1024
    # Messages waiting for the writer. When full, the link's thread waits, the broker
    # holds further messages in its queue: back-pressure instead of unbounded memory.
    queue_messages: int = 128
    directory_refresh_s: float = 60.0


@dataclass
class IngestStats:
    """Counters since start; read them from any thread."""

    messages: int = 0
    batches: int = 0
    events_stored: int = 0
    duplicates: int = 0
    acks_sent: int = 0
    write_failures: int = 0
    invalid: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _changed: threading.Condition = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._changed = threading.Condition(self._lock)

    def add(self, **counts: int) -> None:
        with self._changed:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)
            self._changed.notify_all()

    def reject(self, reason: str) -> None:
        with self._changed:
            self.invalid[reason] += 1
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[IngestStats], bool], timeout_s: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self), timeout_s)

    def summary(self) -> str:
        with self._lock:
            return (
                f"messages={self.messages} batches={self.batches} "
                f"events_stored={self.events_stored} duplicates={self.duplicates} "
                f"acks_sent={self.acks_sent} write_failures={self.write_failures} "
                f"invalid={sum(self.invalid.values())}"
            )


class _Directory:
    """Device id -> DeviceInfo, cached; re-read from the fleet store now and then."""

    def __init__(self, fleet: FleetStore, clock: Clock, refresh_s: float) -> None:
        self._fleet = fleet
        self._clock = clock
        self._refresh = timedelta(seconds=refresh_s)
        self._cache: dict[str, tuple[DeviceInfo | None, datetime]] = {}

    def get(self, device_id: str) -> DeviceInfo | None:
        now = self._clock.now()
        found = self._cache.get(device_id)
        if found is None or now - found[1] >= self._refresh:
            found = (self._fleet.device(device_id), now)
            self._cache[device_id] = found
        return found[0]


_Received = tuple[str, bytes]
_STOP: _Received = ("", b"")


class Ingest:
    """Subscribe, validate, store in groups, acknowledge after durable writes."""

    def __init__(
        self,
        events: EventStore,
        fleet: FleetStore,
        settings: IngestSettings,
        *,
        clock: Clock | None = None,
        health_sink: Callable[[Sequence[Health]], None] | None = None,
        feedback: FeedbackStore | None = None,
    ) -> None:
        self._events = events
        self._feedback = feedback
        self._health_sink = health_sink
        self._fleet = fleet
        self._settings = settings
        self._clock = clock or SystemClock()
        self._directory = _Directory(fleet, self._clock, settings.directory_refresh_s)
        self._queue: queue.Queue[_Received] = queue.Queue(settings.queue_messages)
        self._stopping = threading.Event()
        self._writer: threading.Thread | None = None
        self.stats = IngestStats()
        self.link = MqttLink(
            client_id=settings.client_id,
            settings=settings.mqtt,
            jitter_first_connect=False,
        )

    def _filter(self, channel: Channel) -> str:
        topic = all_devices(channel)
        group = self._settings.shared_group
        return shared(group, topic) if group else topic

    def start(self) -> None:
        self._writer = threading.Thread(target=self._run, name="ingest-writer", daemon=True)
        self._writer.start()
        self.link.subscribe(self._filter(Channel.EVENTS), self._received, qos=1)
        self.link.subscribe(self._filter(Channel.COMMAND_RESULTS), self._received, qos=1)
        self.link.subscribe(self._filter(Channel.HEALTH), self._received, qos=0)
        self.link.subscribe(all_devices(Channel.STATUS), self._received, qos=1)
        self.link.start()
        log.info(
            "ingest %s started (group %s)", self._settings.client_id, self._settings.shared_group
        )

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop receiving, finish the write under way, then disconnect. Messages still
        queued are not acknowledged, so their devices send them again."""
        self._stopping.set()
        self.link.stop(timeout_s=timeout_s)
        # If the queue is full the writer sees _stopping after its current group.
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(_STOP)
        if self._writer is not None:
            self._writer.join(timeout_s)
            self._writer = None
        log.info("ingest %s stopped: %s", self._settings.client_id, self.stats.summary())

    # --- link thread ---------------------------------------------------------------------

    def _received(self, topic: str, payload: bytes) -> None:
        while not self._stopping.is_set():
            try:
                self._queue.put((topic, payload), timeout=1.0)
                return
            except queue.Full:
                continue

    # --- writer thread ---------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                first = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            if first is _STOP:
                break
            group = [first]
            size = len(first[1])
            while len(group) < self._settings.max_messages_per_write:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    self._stopping.set()
                    break
                group.append(item)
                size += len(item[1])
                if size >= self._settings.max_bytes_per_write:
                    break
            try:
                self.process(group)
            except Exception:
                log.exception("ingest write failed; the devices will send these events again")
                self.stats.add(write_failures=1)

    def process(self, received: Sequence[_Received]) -> list[BatchOutcome]:
        """Validate and store one group of messages, then acknowledge; returns what the
        event store reported (public for tests and the in-process mode)."""
        now = self._clock.now()
        batches: list[tuple[Batch, DeviceInfo | None]] = []
        health: list[Health] = []
        seen: set[str] = set()
        for topic, payload in received:
            message = self._validate(topic, payload)
            if message is None:
                continue
            seen.add(message.device_id)
            if isinstance(message, Batch):
                batches.append((message, self._directory.get(message.device_id)))
            elif isinstance(message, Health):
                health.append(message)
            elif isinstance(message, Status):
                self._fleet.record_status(message, now)
            elif isinstance(message, CommandResult):
                self._fleet.record_command_result(message, now)
        outcomes: list[BatchOutcome] = []
        if batches:
            batches = self._keep_feedback(batches)
            outcomes = self._events.store_batches(batches)  # durable when it returns
            self.stats.add(
                batches=len(outcomes),
                events_stored=sum(o.inserted for o in outcomes),
                duplicates=sum(o.duplicates for o in outcomes),
            )
            self._acknowledge(outcomes)
            for batch, _ in batches:
                if batch.dropped_total:
                    self._fleet.record_dropped(batch.device_id, batch.dropped_total)
        if health:
            self._fleet.record_health(health, now)
            if self._health_sink is not None:
                try:
                    self._health_sink(health)
                except Exception:  # health is a sample stream: a lost sample is no loss
                    log.warning("could not copy %d health samples", len(health), exc_info=True)
        if seen:
            self._fleet.record_seen(seen, now)
        self.stats.add(messages=len(received))  # last: a waiter then sees everything stored
        return outcomes

    def _keep_feedback(
        self, batches: list[tuple[Batch, DeviceInfo | None]]
    ) -> list[tuple[Batch, DeviceInfo | None]]:
        """Store the batches' feedback (scrubbed again) before their events, so an ack
        never covers feedback that is not stored; return the batches without comments."""
        rows = [row for batch, device in batches for row in feedback_rows(batch, device)]
        if not rows:
            return batches
        if self._feedback is None:
            log.warning("%d feedback answers not kept: no feedback store", len(rows))
        else:
            self._feedback.store_feedback(rows)
        return [(without_comments(batch), device) for batch, device in batches]

    def _acknowledge(self, outcomes: Sequence[BatchOutcome]) -> None:
        latest: dict[tuple[str, str], int] = {}
        for outcome in outcomes:
            key = (outcome.device_id, outcome.outbox_epoch)
            latest[key] = max(latest.get(key, 0), outcome.up_to_seq)
        for (device_id, epoch), up_to_seq in latest.items():
            ack = EventAck(device_id=device_id, outbox_epoch=epoch, up_to_seq=up_to_seq)
            self.link.publish(device_topic(device_id, Channel.EVENTS_ACK), ack.encode(), qos=1)
        self.stats.add(acks_sent=len(latest))

    def _validate(self, topic: str, payload: bytes) -> _Reported | None:
        device_id = "?"
        try:
            where = parse_topic(topic)
            if not isinstance(where, DeviceTopic):
                raise ProtocolError("topic", "not a device topic")
            device_id = where.device_id
            message = _parse(where.channel, payload)
            if message is None:
                raise ProtocolError("topic", f"the ingest does not read {where.channel.value}")
            if message.device_id != device_id:
                raise ProtocolError(
                    "device_id", "differs from the topic: a device may only speak for itself"
                )
        except ProtocolError as error:
            self.stats.reject(f"{error.field}: {error.reason}"[:120])
            log.warning(
                "rejected message from device %s on %s: %s (%d bytes)",
                device_id,
                topic,
                error,
                len(payload),
            )
            return None
        return message


_Reported = Batch | Health | Status | CommandResult


def _parse(channel: Channel, payload: bytes) -> _Reported | None:
    if channel is Channel.EVENTS:
        return decode_batch(payload)  # the hot path: msgspec, not pydantic (events_wire)
    if channel is Channel.HEALTH:
        return parse(Health, payload)
    if channel is Channel.STATUS:
        return parse(Status, payload)
    if channel is Channel.COMMAND_RESULTS:
        return parse(CommandResult, payload)
    return None


def start_ingest_thread(
    stores: Stores, settings: IngestSettings, clock: Clock | None = None
) -> Ingest:
    """Run the ingest inside another process (the CMS, for small installs); call
    `.stop()` on the result at shutdown."""
    ingest = Ingest(
        stores.events,
        stores.fleet,
        settings,
        clock=clock,
        health_sink=stores.health_sink,
        feedback=stores.feedback,
    )
    ingest.start()
    return ingest
