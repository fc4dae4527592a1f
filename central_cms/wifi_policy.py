"""A site's Wi-Fi policy form (issue 16): what staff type, checked into a `WifiPolicy`
with a message per field that says how to fix it (pure), and where it is stored: the
site's portal settings, so the manifest compiler sends it to the site's portal nodes.

Staff think in Mbit/s, MB and "9:00 to 17:00"; the wire carries kbit/s, MB and
`OpeningHours`. Blank means "no limit" (or, for service hours, "always open").
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from central_cms import audit
from central_cms import models as m
from central_cms.errors import Invalid
from central_cms.manifests import sync_manifests
from central_cms.policy import Actor, Permission, require
from central_cms.runtime import CmsRuntime
from central_cms.screen_setup import DAY_NAMES  # the days as staff read them, Monday first
from devices.protocol import OpeningHours, WifiPolicy

MAX_WALLED_GARDEN = 32
_HOST = re.compile(r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class WifiForm:
    session_minutes: int
    policy: WifiPolicy | None  # None: nothing beyond the session length is set


class _Problems:
    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, field: str, message: str) -> None:
        self.items.append((field, message))


def _number(
    form: Mapping[str, str],
    problems: _Problems,
    name: str,
    label: str,
    low: float,
    high: float,
    unit: str,
    *,
    required: bool = False,
    whole: bool = True,
) -> float | None:
    text = form.get(name, "").strip().replace(",", ".")
    if not text:
        if required:
            problems.add(name, f"{label}: enter a number of {unit} ({low:g} to {high:g}).")
        return None
    try:
        value = float(text)
    except ValueError:
        problems.add(name, f"{label}: {text[:20]!r} is not a number; write e.g. {high / 10:g}.")
        return None
    if whole and value != int(value):
        problems.add(name, f"{label}: use a whole number of {unit}.")
        return None
    if not low <= value <= high:
        problems.add(name, f"{label}: use {low:g} to {high:g} {unit}, or leave it blank.")
        return None
    return value


def _clock(text: str) -> time | None:
    match = _TIME.match(text.strip())
    return time(int(match.group(1)), int(match.group(2))) if match else None


def _service_hours(form: Mapping[str, str], problems: _Problems) -> tuple[OpeningHours, ...]:
    if form.get("hours_limited") not in ("on", "1", "yes"):
        return ()
    hours = []
    for day, name in DAY_NAMES.items():
        opens_text = form.get(f"opens_{day.value}", "").strip()
        closes_text = form.get(f"closes_{day.value}", "").strip()
        if not opens_text and not closes_text:
            continue  # closed all day
        opens, closes = _clock(opens_text), _clock(closes_text)
        if opens is None or closes is None:
            problems.add(
                f"opens_{day.value}",
                f"Service hours, {name}: give both times as HH:MM (e.g. 09:00 and 17:30), "
                "or leave both blank for no Wi-Fi that day.",
            )
        elif opens == closes:
            problems.add(
                f"opens_{day.value}",
                f"Service hours, {name}: opening and closing are both {opens:%H:%M}; "
                "for all day use 00:00 to 23:59.",
            )
        else:
            hours.append(OpeningHours(day=day, opens=opens, closes=closes))
    if not hours:
        problems.add(
            "hours_limited",
            "Service hours: give the hours of at least one day, or untick "
            "'Only during service hours' to keep the Wi-Fi open at all times.",
        )
    return tuple(hours)


def walled_garden_host(line: str) -> str | None:
    """A host as staff may paste it (a URL, upper case) reduced to the host; None if
    it is not a host name or IPv4 address."""
    text = line.strip().lower()
    if "://" in text:
        text = urlsplit(text).hostname or ""
    text = text.rstrip(".")
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        pass
    return text if len(text) <= 253 and _HOST.match(text) else None


def _walled_garden(form: Mapping[str, str], problems: _Problems) -> tuple[str, ...]:
    hosts: list[str] = []
    for line in form.get("walled_garden", "").splitlines():
        if not line.strip():
            continue
        host = walled_garden_host(line)
        if host is None:
            problems.add(
                "walled_garden",
                f"Sites reachable before accepting: {line.strip()[:60]!r} is not a host "
                "name; write one per line, e.g. bookings.example.org.",
            )
        elif host not in hosts:
            hosts.append(host)
    if len(hosts) > MAX_WALLED_GARDEN:
        problems.add(
            "walled_garden",
            f"Sites reachable before accepting: at most {MAX_WALLED_GARDEN} hosts "
            f"({len(hosts)} given).",
        )
    return tuple(hosts)


def _kbps(mbps: float | None) -> int | None:
    return None if mbps is None else round(mbps * 1000)


def parse_wifi_form(form: Mapping[str, str]) -> WifiForm:
    """Every problem at once (Invalid.problems), each naming its field."""
    problems = _Problems()
    session = _number(
        form,
        problems,
        "session_minutes",
        "Session length",
        1,
        7 * 24 * 60,
        "minutes",
        required=True,
    )
    idle = _number(form, problems, "idle_minutes", "Idle timeout", 1, 24 * 60, "minutes")
    down = _number(
        form, problems, "download_mbps", "Download speed", 0.064, 1000, "Mbit/s", whole=False
    )
    up = _number(form, problems, "upload_mbps", "Upload speed", 0.064, 1000, "Mbit/s", whole=False)
    down_quota = _number(
        form, problems, "download_quota_mb", "Download allowance", 1, 1_000_000, "MB"
    )
    up_quota = _number(form, problems, "upload_quota_mb", "Upload allowance", 1, 1_000_000, "MB")
    every = _number(
        form, problems, "splash_every_days", "Show the terms again every", 1, 365, "days"
    )
    hours = _service_hours(form, problems)
    garden = _walled_garden(form, problems)
    if problems.items:
        field, message = problems.items[0]
        raise Invalid(field, message, [m for _, m in problems.items])
    assert session is not None  # required: a problem otherwise
    policy = WifiPolicy(
        idle_minutes=None if idle is None else int(idle),
        download_kbps=_kbps(down),
        upload_kbps=_kbps(up),
        download_quota_mb=None if down_quota is None else int(down_quota),
        upload_quota_mb=None if up_quota is None else int(up_quota),
        service_hours=hours,
        walled_garden=garden,
        splash_every_days=None if every is None else int(every),
    )
    return WifiForm(int(session), None if policy == WifiPolicy() else policy)


def form_values(session_minutes: int, policy: WifiPolicy | None) -> dict[str, str]:
    """The form's fields for a saved policy (the inverse of `parse_wifi_form`)."""
    wifi = policy or WifiPolicy()

    def text(value: float | None) -> str:
        return "" if value is None else f"{value:g}"

    values = {
        "session_minutes": str(session_minutes),
        "idle_minutes": text(wifi.idle_minutes),
        "download_mbps": text(None if wifi.download_kbps is None else wifi.download_kbps / 1000),
        "upload_mbps": text(None if wifi.upload_kbps is None else wifi.upload_kbps / 1000),
        "download_quota_mb": text(wifi.download_quota_mb),
        "upload_quota_mb": text(wifi.upload_quota_mb),
        "splash_every_days": text(wifi.splash_every_days),
        "walled_garden": "\n".join(wifi.walled_garden),
        "hours_limited": "on" if wifi.service_hours else "",
    }
    for hours in wifi.service_hours:
        values[f"opens_{hours.day.value}"] = hours.opens.strftime("%H:%M")
        values[f"closes_{hours.day.value}"] = hours.closes.strftime("%H:%M")
    return values


# --- the database --------------------------------------------------------------------------


def saved_policy(site: m.Site) -> tuple[int, WifiPolicy | None]:
    """(session minutes, policy) of a site with a portal."""
    settings = site.portal_settings or {}
    wifi = settings.get("wifi")
    return (
        int(settings.get("session_minutes", 240)),
        WifiPolicy.model_validate(wifi) if wifi else None,
    )


def save_wifi_policy(
    session: Session, rt: CmsRuntime, actor: Actor, site: m.Site, form: WifiForm
) -> None:
    """Store the policy in the site's portal settings and re-publish its portal nodes'
    manifests (the node applies it when the manifest arrives)."""
    require(actor, Permission.WIFI_WRITE, site_ids=(site.id,))
    if site.portal_settings is None:
        raise Invalid("site", f"{site.name} has no Wi-Fi portal, so it has no Wi-Fi policy.")
    settings = {k: v for k, v in site.portal_settings.items() if k != "wifi"}
    settings["session_minutes"] = form.session_minutes
    if form.policy is not None:
        settings["wifi"] = form.policy.model_dump(mode="json", exclude_defaults=True)
    site.portal_settings = settings  # a new dict: SQLAlchemy sees the JSON change
    audit.record(session, actor, "site.wifi", "site", site.id, rt.clock.now())
    session.flush()
    sync_manifests(
        session, rt, session.scalars(select(m.Device.id).where(m.Device.site_id == site.id)).all()
    )
