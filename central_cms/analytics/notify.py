"""Tell IT about device-health changes: a webhook (chat, paging, ticketing) or nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import socket
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Protocol

from central_cms.analytics.health_rules import (
    AlertRules,
    Changes,
    Finding,
    Transitions,
    evaluate_fleet,
)
from central_cms.analytics.ports import FleetStore
from devices.clock import Clock

log = logging.getLogger(__name__)


class Notifier(Protocol):
    def notify(self, changes: Changes, at: datetime) -> None: ...


class NullNotifier:
    def notify(self, changes: Changes, at: datetime) -> None:
        return None


def _finding_json(finding: Finding) -> dict[str, str]:
    return {
        "device_id": finding.device_id,
        "rule": finding.rule,
        "level": finding.level.value,
        "message": finding.message,
    }


@dataclass(frozen=True)
class WebhookNotifier:
    """POSTs JSON {at, raised: [...], cleared: [...]}; with a secret, the body's
    HMAC-SHA256 goes in `X-Digital-Spaces-Signature` so the receiver can trust it."""

    url: str
    secret: str | None = None
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if not self.url.startswith(("https://", "http://")):
            raise ValueError("webhook url must be http(s)://")

    def notify(self, changes: Changes, at: datetime) -> None:
        if not changes.raised and not changes.cleared:
            return
        body = json.dumps(
            {
                "at": at.isoformat(),
                "raised": [_finding_json(f) for f in changes.raised],
                "cleared": [_finding_json(f) for f in changes.cleared],
            }
        ).encode()
        headers = {"Content-Type": "application/json"}
        if self.secret:
            digest = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
            headers["X-Digital-Spaces-Signature"] = f"sha256={digest}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")  # noqa: S310 - scheme checked above
        with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:  # noqa: S310
            answer.read()


class HealthMonitor:
    """Evaluates the rules over the fleet; notifies changes. Call `tick()` periodically
    (the ingest does, every minute) or `run()` on a thread until `stop()`.

    The thresholds are read from the fleet store on every tick, so what IT saves on the
    alert rules page applies from the next tick on, without restarting the ingest.

    Every ingest process runs a monitor, but only the one holding the store's lease
    (three intervals long, renewed each tick) evaluates and notifies, so IT hears of a
    change once; if it stops, another takes over from the findings it had raised.
    """

    def __init__(
        self,
        fleet: FleetStore,
        notifier: Notifier,
        clock: Clock,
        interval_s: float = 60.0,
        owner: str | None = None,
    ) -> None:
        self._fleet = fleet
        self._notifier = notifier
        self._clock = clock
        self._interval_s = interval_s
        self._owner = owner or f"{socket.gethostname()}-{os.getpid()}"
        self._transitions: Transitions | None = None  # None while another process notifies
        self._stopping = threading.Event()
        self._rules: AlertRules | None = None

    def _read_rules(self) -> AlertRules:
        rules = self._fleet.alert_rules()
        if rules != self._rules:  # a change of state is worth a log line; each tick is not
            log.info("alert rules: %s", ", ".join(f"{k}={v:g}" for k, v in asdict(rules).items()))
            self._rules = rules
        return rules

    def tick(self) -> Changes:
        now = self._clock.now()
        lease = timedelta(seconds=3 * self._interval_s)
        raised_before = self._fleet.claim_monitor(self._owner, now, lease)
        if raised_before is None:
            self._transitions = None
            return Changes(raised=(), cleared=())
        if self._transitions is None:
            log.info("health monitor %s notifies from now on", self._owner)
            self._transitions = Transitions(raised_before)
        rules = self._read_rules()
        changes = self._transitions.update(evaluate_fleet(self._fleet.fleet(), rules, now))
        for finding in changes.raised:
            log.warning("device %s: %s (%s)", finding.device_id, finding.message, finding.rule)
        for finding in changes.cleared:
            log.info("device %s: %s cleared", finding.device_id, finding.rule)
        try:
            self._notifier.notify(changes, now)
        except OSError as error:
            log.warning("could not notify %d changes: %s", len(changes.raised), error)
        self._fleet.save_monitor_state(self._owner, self._transitions.active)
        return changes

    def run(self, on_error: Callable[[Exception], None] | None = None) -> None:
        while not self._stopping.wait(self._interval_s):
            try:
                self.tick()
            except Exception as error:  # the monitor must outlive a bad sample
                log.exception("health monitor tick failed")
                if on_error:
                    on_error(error)

    def stop(self) -> None:
        self._stopping.set()
