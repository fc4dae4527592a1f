"""Device-health alert rules for IT, as pure functions over what the fleet store holds.

`evaluate(snapshot, rules, now)` -> findings; `Transitions` turns successive
evaluations into "raised" and "cleared" so a notifier speaks once per change, not
every minute.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from central_cms.analytics.model import DeviceSnapshot
from devices.protocol import DeviceState

# vcgencmd get_throttled: bits 0-3 are happening now; bits 16-19 happened since boot.
_THROTTLED_NOW_MASK = 0xF


class Level(StrEnum):
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True)
class Limit:
    """The plausible range of one threshold (inclusive), in its unit."""

    low: float
    high: float
    unit: str


# What IT may set. Offline waits at least two minutes because devices report health every
# minute: a shorter wait would raise an alert for one late sample.
LIMITS: dict[str, Limit] = {
    "offline_after_min": Limit(2, 7 * 24 * 60, "minutes"),
    "temperature_warning_c": Limit(30, 100, "°C"),
    "temperature_critical_c": Limit(30, 100, "°C"),
    "disk_warning_percent": Limit(1, 100, "%"),
    "disk_critical_percent": Limit(1, 100, "%"),
    "memory_warning_percent": Limit(1, 100, "%"),
    "manifest_grace_min": Limit(1, 7 * 24 * 60, "minutes"),
}

# (warning, critical): the warning must come first, or it could never be raised.
_ORDERED = (
    ("temperature_warning_c", "temperature_critical_c"),
    ("disk_warning_percent", "disk_critical_percent"),
)


@dataclass(frozen=True)
class RuleProblem:
    """One threshold refused: `fix` is a sentence a form can show next to the field."""

    field: str
    value: object
    fix: str

    def __str__(self) -> str:
        return f"{self.field}={self.value!r}: {self.fix}"


class AlertRulesError(ValueError):
    """Thresholds refused; `problems` names every field at fault, `field` the first."""

    def __init__(self, problems: Sequence[RuleProblem]) -> None:
        self.problems = tuple(problems)
        self.field = self.problems[0].field
        super().__init__("alert rules: " + "; ".join(str(p) for p in self.problems))


def _number(value: float) -> str:
    return f"{value:g}"


def rule_problems(values: Mapping[str, object]) -> list[RuleProblem]:
    """Everything wrong with a set of thresholds (empty when they are usable)."""
    problems = []
    usable: dict[str, float] = {}
    for name, limit in LIMITS.items():
        value = values.get(name)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            problems.append(RuleProblem(name, value, "Enter a number."))
        elif not limit.low <= value <= limit.high:
            span = f"{_number(limit.low)} to {_number(limit.high)} {limit.unit}"
            problems.append(RuleProblem(name, value, f"Enter a number from {span}."))
        else:
            usable[name] = float(value)
    for warning, critical in _ORDERED:
        if warning in usable and critical in usable and usable[warning] >= usable[critical]:
            level = f"{_number(usable[critical])} {LIMITS[critical].unit}"
            problems.append(
                RuleProblem(
                    warning,
                    values[warning],
                    f"The warning level must be below the critical level ({level}).",
                )
            )
    return problems


@dataclass(frozen=True)
class AlertRules:
    """IT's thresholds. The defaults apply until IT saves their own on the alert rules
    page; the fleet store keeps them, so the dashboard and the notifier agree."""

    offline_after_min: float = 10
    temperature_warning_c: float = 75
    temperature_critical_c: float = 82  # the Pi firmware throttles from 80-85 C
    disk_warning_percent: float = 85
    disk_critical_percent: float = 95
    memory_warning_percent: float = 95
    manifest_grace_min: float = 15

    def __post_init__(self) -> None:
        problems = rule_problems(asdict(self))
        if problems:
            raise AlertRulesError(problems)


@dataclass(frozen=True)
class Finding:
    device_id: str
    rule: str  # offline, never-seen, temperature, disk, memory, throttling, manifest
    level: Level
    message: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.device_id, self.rule)


def _minutes(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


def evaluate(snapshot: DeviceSnapshot, rules: AlertRules, now: datetime) -> list[Finding]:
    device = snapshot.device_id
    out: list[Finding] = []
    offline_after = timedelta(minutes=rules.offline_after_min)
    status, health = snapshot.status, snapshot.health
    if snapshot.last_seen is None and status is None:
        out.append(Finding(device, "never-seen", Level.WARNING, "has never connected"))
        return out
    said_offline = status is not None and status.state is DeviceState.OFFLINE
    since = snapshot.status_received_at if said_offline else snapshot.last_seen
    # Offline by its last will (or clean goodbye), or silent: a broker that lost the
    # device without noticing (half-open TCP) still stops delivering its health.
    if since is not None and now - since > offline_after:
        why = "offline" if said_offline else "silent"
        out.append(Finding(device, "offline", Level.CRITICAL, f"{why} for {_minutes(now - since)}"))
    if health is not None:
        temperature = health.temperature_c
        if temperature is not None and temperature >= rules.temperature_warning_c:
            level = Level.CRITICAL if temperature >= rules.temperature_critical_c else Level.WARNING
            out.append(Finding(device, "temperature", level, f"{temperature:.1f} C"))
        if health.disk_used_percent >= rules.disk_warning_percent:
            level = (
                Level.CRITICAL
                if health.disk_used_percent >= rules.disk_critical_percent
                else Level.WARNING
            )
            out.append(Finding(device, "disk", level, f"disk {health.disk_used_percent:.0f}% used"))
        if health.memory_used_percent >= rules.memory_warning_percent:
            out.append(
                Finding(
                    device,
                    "memory",
                    Level.WARNING,
                    f"memory {health.memory_used_percent:.0f}% used",
                )
            )
        throttling = health.throttling
        if throttling is not None and throttling.raw & _THROTTLED_NOW_MASK:
            now_flags = [f for f in throttling.flags if not f.endswith("-occurred")]
            out.append(
                Finding(device, "throttling", Level.WARNING, ", ".join(now_flags) or "throttled")
            )
    info = snapshot.info
    if (
        info is not None
        and info.expected_manifest_version is not None
        and status is not None
        and status.state is DeviceState.ONLINE
        and (status.manifest_version or 0) < info.expected_manifest_version
        and (
            info.manifest_published_at is None
            or now - info.manifest_published_at > timedelta(minutes=rules.manifest_grace_min)
        )
    ):
        running = status.manifest_version
        out.append(
            Finding(
                device,
                "manifest",
                Level.WARNING,
                f"runs manifest v{running if running is not None else '-'}, "
                f"v{info.expected_manifest_version} is published",
            )
        )
    return out


def evaluate_fleet(
    snapshots: Iterable[DeviceSnapshot], rules: AlertRules, now: datetime
) -> list[Finding]:
    return [finding for s in snapshots for finding in evaluate(s, rules, now)]


@dataclass(frozen=True)
class Changes:
    raised: tuple[Finding, ...]
    cleared: tuple[Finding, ...]


class Transitions:
    """Remembers the active findings; `update` returns what changed since the last call."""

    def __init__(self, active: Iterable[Finding] = ()) -> None:
        self._active: dict[tuple[str, str], Finding] = {f.key: f for f in active}

    @property
    def active(self) -> tuple[Finding, ...]:
        return tuple(self._active.values())

    def update(self, findings: Sequence[Finding]) -> Changes:
        current = {f.key: f for f in findings}
        raised = tuple(f for k, f in current.items() if k not in self._active)
        escalated = tuple(
            f
            for k, f in current.items()
            if k in self._active
            and f.level is Level.CRITICAL
            and self._active[k].level is not Level.CRITICAL
        )
        cleared = tuple(f for k, f in self._active.items() if k not in current)
        self._active = current
        return Changes(raised=raised + escalated, cleared=cleared)
