"""The loop both device kinds run (DESIGN.md, data flow steps 3-7).

Connect; subscribe to the manifest, commands, acks and alerts; verify every signature
(an unsigned or foreign manifest is logged and the last good one stays); download a
new manifest's assets and hand it to the device only when all are present and
verified; persist it as the last good manifest; run commands and publish results;
publish status and health; flush the outbox. Threads: paho's network thread only
parses and queues; a manifest worker downloads; the main loop pumps the outbox,
publishes health and status; commands run on a single worker.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from devices import __version__, systemd
from devices.alert_book import AlertBook
from devices.cache import ContentCache
from devices.clock import Clock, SystemClock
from devices.commands import CommandLog
from devices.config import DeviceConfig
from devices.device_kind import (
    AgentServices,
    CommandOutcome,
    DeviceApplication,
    ReportsPortalHealth,
)
from devices.feeds import FeedStore
from devices.health import HealthProbe, PiSensors
from devices.http_fetch import CacheError, RetryPolicy, Transport, UrllibTransport
from devices.launcher import RESTART_EXIT_CODE
from devices.link import MqttLink
from devices.outbox import Outbox, OutboxSender, SenderSettings
from devices.protocol import (
    ALERTS_WILDCARD,
    AlertTopic,
    Channel,
    Command,
    CommandName,
    CommandResult,
    DeviceKind,
    DeviceState,
    EventAck,
    EventData,
    Manifest,
    ProtocolError,
    Status,
    device_topic,
    parse,
    parse_signed,
    parse_topic,
)
from devices.saved_messages import SavedMessages
from devices.system_control import RecordingSystem, SystemControl, SystemdControl
from devices.updates import SoftwareUpdater

log = logging.getLogger(__name__)

# The messages the CMS sends one device, naming it in `device_id`.
_Addressed = TypeVar("_Addressed", Manifest, Command)


@dataclass(frozen=True)
class _Received:
    manifest: Manifest
    payload: bytes


class _Services:
    """The AgentServices handed to the device kind."""

    def __init__(self, agent: DeviceAgent) -> None:
        self._agent = agent

    @property
    def device_id(self) -> str:
        return self._agent.config.device_id

    @property
    def kind(self) -> DeviceKind:
        return self._agent.config.kind

    @property
    def clock(self) -> Clock:
        return self._agent.clock

    @property
    def assets(self) -> ContentCache:
        return self._agent.cache

    def record(self, data: EventData) -> None:
        self._agent.outbox.record(data)
        self._agent.wake()

    def status_changed(self) -> None:
        self._agent.publish_status()

    @property
    def feeds(self) -> FeedStore:
        return self._agent.feeds


class DeviceAgent:
    def __init__(
        self,
        config: DeviceConfig,
        app: DeviceApplication,
        *,
        clock: Clock | None = None,
        sensors: PiSensors | None = None,
        system: SystemControl | None = None,
        transport: Transport | None = None,
        software_version: str = __version__,
        monotonic: Callable[[], float] = time.monotonic,
        sender_settings: SenderSettings | None = None,
    ) -> None:
        self.config = config
        self.app = app
        self.clock = clock or SystemClock()
        self.system = system or SystemdControl()
        self.software_version = software_version
        self._stopping = threading.Event()
        self._done = threading.Event()  # run_forever returns: a signal, or a new release
        self.exit_code = 0
        self._wake = threading.Event()
        self._manifest_ready = threading.Event()
        self._lock = threading.Lock()
        self._stored = SavedMessages(config.state_dir)
        self.feeds = FeedStore(config.state_dir / "feeds", config.public_keys)
        self.cache = ContentCache(
            config.cache_dir,
            budget_bytes=config.cache_budget_bytes,
            transport=transport or UrllibTransport(config.asset_token),
            # Few quick retries inside one attempt; the manifest loop backs off for longer,
            # and a newer manifest interrupts that wait.
            retry=RetryPolicy(max_attempts=3, base_delay_s=0.5, max_delay_s=5.0),
            sleep=self._interruptible_sleep,
        )
        self.outbox = Outbox(
            config.outbox_path,
            device_id=config.device_id,
            budget_bytes=config.outbox_budget_bytes,
            clock=self.clock,
        )
        self.sender = OutboxSender(
            self.outbox,
            self._publish_events,
            sender_settings or SenderSettings(resend_after_s=config.outbox_resend_s),
            monotonic=monotonic,
        )
        self.health = HealthProbe(config.device_id, config.data_dir, self.clock, sensors)
        self.link = MqttLink(
            client_id=config.device_id,
            settings=config.mqtt,
            will=lambda: (self._topic(Channel.STATUS), self._status(DeviceState.OFFLINE).encode()),
            on_connect=self._on_connect,
        )
        self._monotonic = monotonic
        self.current: Manifest | None = None
        self._pending: _Received | None = None
        self._alerts = AlertBook(self._stored, config.public_keys, self._reject)
        # Kept on disk: a command replayed after a restart must not run again (13.6).
        self._command_log = CommandLog(config.state_dir / "commands.json")
        self._commands = ThreadPoolExecutor(max_workers=1, thread_name_prefix="command")
        self._threads: list[threading.Thread] = []
        self.rejected_messages = 0
        self.updater = SoftwareUpdater.for_device(
            config, software_version, self.cache, self.clock, self._restart_into_new_release,
            status_changed=self.publish_status,
        )  # fmt: skip

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        self.app.start(_Services(self))
        self.feeds.attach(self.link)  # before the manifest, which names the feeds to serve
        self.updater.attach(self.link)
        self._restore()
        device = self.config.device_id
        self.link.subscribe(device_topic(device, Channel.MANIFEST), self._on_manifest)
        self.link.subscribe(device_topic(device, Channel.COMMANDS), self._on_command)
        self.link.subscribe(device_topic(device, Channel.EVENTS_ACK), self._on_ack)
        self.link.subscribe(ALERTS_WILDCARD, self._on_alert)
        self.link.start()
        for target, name in ((self._main_loop, "agent"), (self._manifest_loop, "manifest")):
            thread = threading.Thread(target=target, name=f"{name}-{device}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop cleanly: the retained status says "offline" (a clean disconnect drops the will)."""
        self._stopping.set()
        self._wake.set()
        self._manifest_ready.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self._commands.shutdown(wait=True, cancel_futures=True)
        self.app.stop()
        self.link.stop(
            last_words=(self._topic(Channel.STATUS), self._status(DeviceState.OFFLINE).encode())
        )
        self.outbox.close()

    def run_forever(self) -> int:
        """Run until SIGTERM or SIGINT."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self._done.set())
        self.start()
        self._done.wait()
        log.info("stopping")
        self.stop()
        return self.exit_code

    def _restart_into_new_release(self) -> None:
        """The updater switched `current`: end run_forever so the launcher starts it."""
        self.exit_code = RESTART_EXIT_CODE
        self._done.set()

    def wake(self) -> None:
        self._wake.set()

    def _interruptible_sleep(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    # --- start from what survived the reboot -----------------------------------------------

    def _restore(self) -> None:
        payload = self._stored.load_manifest()
        if payload is not None:
            try:
                manifest = parse_signed(Manifest, payload, list(self.config.public_keys))
            except ProtocolError as error:
                log.error("stored manifest rejected (%s); waiting for a new one", error)
            else:
                if all(self.cache.has(a.sha256) for a in manifest.assets):
                    self._install(manifest, payload, persist=False)
                else:
                    log.warning(
                        "assets of stored manifest %d are missing; fetching", manifest.version
                    )
                    self._set_pending(_Received(manifest, payload))
        self._alerts.restore()
        self._push_alerts()

    # --- incoming messages (paho's thread: parse, check, queue; never block) ----------------

    def _on_manifest(self, topic: str, payload: bytes) -> None:
        if not payload:
            return  # the retained manifest was cleared; keep playing the last good one
        manifest = self._addressed_to_me(Manifest, topic, payload)
        if manifest is None:
            return
        with self._lock:
            newest = max(
                (m.version for m in (self.current, self._pending and self._pending.manifest) if m),
                default=0,
            )
        if manifest.version <= newest:
            if manifest.version < newest:
                log.warning("ignoring manifest %d: %d is newer", manifest.version, newest)
            return
        log.info("manifest %d received (%d assets)", manifest.version, len(manifest.assets))
        self._set_pending(_Received(manifest, payload))

    def _on_alert(self, topic: str, payload: bytes) -> None:
        if not payload:
            return  # a retained alert removed from the broker; only a signed clear ends one
        try:
            parsed = parse_topic(topic)
            if not isinstance(parsed, AlertTopic):
                raise ProtocolError("topic", "not an alert topic")
        except ProtocolError as error:
            self._reject(topic, error)
            return
        if self._alerts.accept(parsed.scope, payload, persist=True):
            self._push_alerts()

    def _push_alerts(self) -> None:
        with self._lock:
            site = self.current.site.id if self.current else None
        self.app.apply_alerts(self._alerts.for_site(site))

    def _on_command(self, topic: str, payload: bytes) -> None:
        command = self._addressed_to_me(Command, topic, payload)
        if command is None:
            return
        # The command worker checks for a repeat: it writes to disk, this thread must not.
        self._commands.submit(self._run_command, command)

    def _on_ack(self, topic: str, payload: bytes) -> None:
        try:
            ack = parse(EventAck, payload)
        except ProtocolError as error:
            self._reject(topic, error)
            return
        self.sender.on_ack(ack)
        self._wake.set()

    def _addressed_to_me(
        self, model: type[_Addressed], topic: str, payload: bytes
    ) -> _Addressed | None:
        """The signed message, if it verifies and names this device; else rejected."""
        try:
            message = parse_signed(model, payload, list(self.config.public_keys))
            if message.device_id != self.config.device_id:
                name = model.SCHEMA.removeprefix("ds.").partition("/")[0]  # "manifest"
                raise ProtocolError("device_id", f"{name} is for {message.device_id}")
        except ProtocolError as error:
            self._reject(topic, error)
            return None
        return message

    def _reject(self, topic: str, error: ProtocolError) -> None:
        self.rejected_messages += 1
        log.warning("rejected message on %s: %s", topic, error)

    # --- manifests: download, then swap ----------------------------------------------------

    def _set_pending(self, received: _Received) -> None:
        with self._lock:
            self._pending = received
        self._manifest_ready.set()

    def _manifest_loop(self) -> None:
        failures = 0
        failing_version = 0
        while not self._stopping.is_set():
            self._manifest_ready.wait()
            self._manifest_ready.clear()
            with self._lock:
                received = self._pending
            if received is None or self._stopping.is_set():
                continue
            version = received.manifest.version
            keep = {a.sha256 for a in self.current.assets} if self.current else set()
            try:
                self.cache.prepare(
                    received.manifest.assets, keep=keep, progress=_progress_logger(version)
                )
            except (CacheError, OSError) as error:
                failures = failures + 1 if version == failing_version else 1
                failing_version = version
                delay = min(300.0, 2.0**failures)
                log.warning(
                    "manifest %d not applied yet (%s); retrying in %.0fs; still playing %s",
                    version,
                    error,
                    delay,
                    self.current.version if self.current else "nothing",
                )
                # A newer manifest arriving meanwhile ends the wait at once.
                self._manifest_ready.wait(delay)
                self._manifest_ready.set()
                continue
            failures = 0
            with self._lock:
                if self._pending is not received:
                    self._manifest_ready.set()  # a newer one came while downloading
                    continue
                self._pending = None
            self._install(received.manifest, received.payload, persist=True)

    def _install(self, manifest: Manifest, payload: bytes, *, persist: bool) -> None:
        if persist:
            self._stored.save_manifest(payload)
        with self._lock:
            previous_site = self.current.site.id if self.current else None
            self.current = manifest
        self.feeds.use(manifest.feeds)
        self.updater.use(manifest.software_channel)
        self.app.apply_manifest(manifest)
        if manifest.site.id != previous_site:
            self._push_alerts()
        self.cache.evict({a.sha256 for a in manifest.assets})
        log.info("manifest %d in force", manifest.version)
        self.publish_status()
        self._confirm_health()

    def _confirm_health(self) -> None:
        """A release on trial is healthy once connected with a verified manifest in force."""
        if self.link.connected.is_set() and self.current is not None:
            self.updater.confirm_healthy()

    # --- commands --------------------------------------------------------------------------

    def _run_command(self, command: Command) -> None:
        now = self.clock.now()
        if not self._command_log.first_time(command, now):
            # A QoS 1 repeat, a retained copy or a replay, perhaps from before a restart.
            log.info("command %s (%s) was taken already; not again", command.id, command.name)
            return
        if now >= command.expires_at:
            outcome = CommandOutcome(
                ok=False, detail=f"expired at {command.expires_at.isoformat()}"
            )
        elif command.name is CommandName.REBOOT:
            refusal = self._command_log.reboot_refusal(command)
            if refusal is None:
                self._publish_result(command, CommandOutcome(ok=True, detail="rebooting"))
                self.system.reboot()
                return
            log.warning("command %s: %s", command.id, refusal)
            outcome = CommandOutcome(ok=False, detail=refusal)
        else:
            try:
                outcome = self.app.run_command(command)
            except Exception as error:
                log.exception("command %s failed", command.name)
                outcome = CommandOutcome(ok=False, detail=f"{type(error).__name__}: {error}")
        self._publish_result(command, outcome)

    def _publish_result(self, command: Command, outcome: CommandOutcome) -> None:
        result = CommandResult(
            command_id=command.id,
            device_id=self.config.device_id,
            ok=outcome.ok,
            detail=outcome.detail,
            data=dict(outcome.data),
            at=self.clock.now(),
        )
        self.link.publish(self._topic(Channel.COMMAND_RESULTS), result.encode())

    # --- status, health, outbox ------------------------------------------------------------

    def _topic(self, channel: Channel) -> str:
        return device_topic(self.config.device_id, channel)

    def _status(self, state: DeviceState) -> Status:
        return Status(
            device_id=self.config.device_id,
            kind=self.config.kind,
            state=state,
            software_version=self.software_version,
            manifest_version=self.current.version if self.current else None,
            now_showing=self.app.now_showing() if state is DeviceState.ONLINE else None,
            at=self.clock.now(),
            update=self.updater.report(),
        )

    def publish_status(self) -> None:
        if self.link.connected.is_set():
            payload = self._status(DeviceState.ONLINE).encode()
            self.link.publish(self._topic(Channel.STATUS), payload, retain=True)

    def _on_connect(self) -> None:
        self.publish_status()
        self._confirm_health()
        self.sender.rewind()  # whatever was in flight may be lost: send it again
        self._wake.set()

    def _publish_events(self, payload: bytes) -> None:
        self.link.publish(self._topic(Channel.EVENTS), payload, qos=1)

    def publish_health(self) -> None:
        sample = self.health.sample(
            outbox_pending=self.outbox.pending,
            outbox_dropped=self.outbox.dropped_total,
            cache_used_bytes=self.cache.usage_bytes(),
            manifest_version=self.current.version if self.current else None,
            portal=self.app.portal_health() if isinstance(self.app, ReportsPortalHealth) else None,
        )
        self.link.publish(self._topic(Channel.HEALTH), sample.encode(), qos=0)

    def _main_loop(self) -> None:
        next_health = self._monotonic()
        watchdog_s = systemd.watchdog_interval_s()
        next_watchdog = self._monotonic()
        systemd.notify("READY=1")
        while not self._stopping.is_set():
            timeout: float | None = None
            if watchdog_s is not None:
                now = self._monotonic()
                if now >= next_watchdog:
                    systemd.notify("WATCHDOG=1")
                    next_watchdog = now + watchdog_s
                timeout = max(0.0, next_watchdog - now)
            if self.link.connected.is_set():
                try:
                    resend_in = self.sender.pump()
                except Exception:
                    log.exception("outbox pump failed")
                    resend_in = None
                if resend_in is not None:
                    timeout = resend_in if timeout is None else min(timeout, resend_in)
                now = self._monotonic()
                if now >= next_health:
                    try:
                        self.publish_health()
                    except Exception:
                        log.exception("health sample failed")
                    next_health = now + self.config.health_interval_s
                until_health = max(0.0, next_health - now)
                timeout = until_health if timeout is None else min(timeout, until_health)
            self._wake.wait(timeout if timeout is not None else 5.0)
            self._wake.clear()


def _progress_logger(version: int) -> Callable[[str, int, int], None]:
    def report(sha256: str, done: int, total: int) -> None:
        log.info("manifest %d: %d of %d bytes", version, done, total)

    return report


__all__ = ["AgentServices", "DeviceAgent", "RecordingSystem", "SystemControl", "SystemdControl"]
