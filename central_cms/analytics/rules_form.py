"""The alert rules form for IT: which thresholds it shows, in what words, and what a
submitted form means. Pure: the view in `web.py` renders, saves and audits."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from central_cms.analytics.health_rules import LIMITS, AlertRules, rule_problems


@dataclass(frozen=True)
class RuleField:
    name: str  # an `AlertRules` field, and the input's name and id
    label: str
    hint: str

    @property
    def unit(self) -> str:
        return LIMITS[self.name].unit


@dataclass(frozen=True)
class RuleGroup:
    legend: str
    fields: tuple[RuleField, ...]


GROUPS = (
    RuleGroup(
        "Offline",
        (
            RuleField(
                "offline_after_min",
                "Offline after",
                "How long a device may be silent, or offline by its last will, before it is "
                "reported.",
            ),
        ),
    ),
    RuleGroup(
        "Temperature",
        (
            RuleField("temperature_warning_c", "Temperature warning at", "The CPU temperature."),
            RuleField(
                "temperature_critical_c",
                "Temperature critical at",
                "The Pi's firmware slows the CPU down from 80 to 85 °C.",
            ),
        ),
    ),
    RuleGroup(
        "Disk",
        (
            RuleField("disk_warning_percent", "Disk warning at", "Share of the disk in use."),
            RuleField(
                "disk_critical_percent",
                "Disk critical at",
                "A full disk stops new content downloading.",
            ),
        ),
    ),
    RuleGroup(
        "Memory",
        (RuleField("memory_warning_percent", "Memory warning at", "Share of the memory in use."),),
    ),
    RuleGroup(
        "Manifest not applied",
        (
            RuleField(
                "manifest_grace_min",
                "Manifest grace period",
                "How long after a manifest is published a device may still run an older one.",
            ),
        ),
    ),
)
FIELDS = {f.name: f for group in GROUPS for f in group.fields}


def shown(value: float) -> str:
    """A threshold as IT typed it: 10, not 10.0."""
    return f"{value:g}"


def form_values(rules: AlertRules) -> dict[str, str]:
    return {name: shown(value) for name, value in asdict(rules).items()}


@dataclass(frozen=True)
class Submitted:
    values: dict[str, str]  # as typed, to show again beside the messages
    errors: dict[str, str]  # field -> what to fix, in the order of the form
    rules: AlertRules | None  # None while there are errors


def read_form(form: Mapping[str, str]) -> Submitted:
    values = {name: form.get(name, "").strip() for name in FIELDS}
    numbers: dict[str, float] = {}
    unreadable: dict[str, str] = {}
    for name, text in values.items():
        try:
            # A decimal comma is what many people type.
            number = float(text.replace(",", "."))
        except ValueError:
            unreadable[name] = "Enter a number." if not text else "Enter a number, like 10."
            continue
        if math.isfinite(number):
            numbers[name] = number
    found = {p.field: p.fix for p in rule_problems(numbers)} | unreadable
    errors = {name: found[name] for name in FIELDS if name in found}
    return Submitted(values, errors, None if errors else AlertRules(**numbers))


def _plain(value: float) -> float:
    return int(value) if float(value).is_integer() else value


def changes(old: AlertRules, new: AlertRules) -> dict[str, list[float]]:
    """{field: [old, new]} for the audit log (30, not 30.0)."""
    before, after = asdict(old), asdict(new)
    return {
        name: [_plain(before[name]), _plain(after[name])]
        for name in FIELDS
        if before[name] != after[name]
    }
