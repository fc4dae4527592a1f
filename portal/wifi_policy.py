"""A site's Wi-Fi policy (issue 16) turned into what openNDS and the portal apply. Pure.

openNDS 9.10 reads its config file only when it starts (no reload, no SIGHUP), and a
restart drops every authorised visitor. So nothing here needs one:

- session length, rates and quotas go with each visitor's ``ndsctl auth`` (`ClientLimits`),
  so a policy change applies to the next visitor who accepts, and current ones keep theirs;
- the idle timeout is enforced by the node's session monitor from ``last_active``;
- the walled garden is a set of accept rules the node keeps in openNDS's own chains
  (`portal.firewall`), the same rules openNDS writes for its ``walledgarden`` ipset;
- service hours are the portal's own: it shows the closed page and accepts no one.

Walled-garden names are resolved by the node on every apply (each session poll), so a
name's changing addresses are followed within a poll; a CDN host whose addresses change
per lookup is better served by openNDS's own ``walledgarden_fqdn_list`` (dnsmasq-full's
ipset fills it as visitors look the name up), which is read at start: that one needs an
openNDS restart, and is the operator's config, not the CMS's.

Splash frequency (`WifiPolicy.splash_every_days`) is the portal's too: a phone that
accepted the current terms at this node within N days is authorised from the splash
request, with these same `ClientLimits`, and welcomed back (`portal.returning` decides
and keeps the node-local record, `portal.welcome` lets it through).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from devices.protocol import OpeningHours, PortalSettings, WifiPolicy

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class ClientLimits:
    """What one visitor's ``ndsctl auth`` carries; None: openNDS's global setting."""

    session_minutes: int | None = None
    upload_kbps: int | None = None
    download_kbps: int | None = None
    upload_quota_kb: int | None = None
    download_quota_kb: int | None = None


NO_LIMITS = ClientLimits()


def client_limits(portal: PortalSettings | None) -> ClientLimits:
    if portal is None:
        return ClientLimits()
    wifi = portal.wifi or WifiPolicy()
    return ClientLimits(
        session_minutes=portal.session_minutes,
        upload_kbps=wifi.upload_kbps,
        download_kbps=wifi.download_kbps,
        upload_quota_kb=None if wifi.upload_quota_mb is None else wifi.upload_quota_mb * 1024,
        download_quota_kb=(
            None if wifi.download_quota_mb is None else wifi.download_quota_mb * 1024
        ),
    )


def ndsctl_auth(client: str, limits: ClientLimits) -> str:
    """The control-socket request ``ndsctl auth`` sends: the arguments joined by commas,
    an empty one meaning "the global setting" (what ndsctl sends for "")."""
    fields = (
        limits.session_minutes,
        limits.upload_kbps,
        limits.download_kbps,
        limits.upload_quota_kb,
        limits.download_quota_kb,
    )
    if "," in client or " " in client:
        raise ValueError(f"not a client address: {client!r}")
    return "auth " + ",".join([client, *("" if v is None else str(v) for v in fields), ""])


def _day(hours: OpeningHours) -> int:
    return hours.day.number


def _open_on(hours: OpeningHours, start_day: datetime, wall: datetime) -> bool:
    """Whether `wall` (naive local) falls in `hours` as opened on `start_day`'s date:
    ``[opens, closes)``, crossing midnight when closes <= opens (DESIGN: schedule)."""
    opens = datetime.combine(start_day.date(), hours.opens)
    closes = datetime.combine(start_day.date(), hours.closes)
    if hours.closes <= hours.opens:
        closes += timedelta(days=1)
    return opens <= wall < closes


def in_service(policy: WifiPolicy | None, timezone: str, at: datetime) -> bool:
    """Whether the portal accepts visitors at instant `at` (aware)."""
    if policy is None or not policy.service_hours:
        return True
    wall = at.astimezone(ZoneInfo(timezone)).replace(tzinfo=None)
    for hours in policy.service_hours:
        for back in (0, 1):  # today's windows, and yesterday's that cross midnight
            start_day = wall - timedelta(days=back)
            if start_day.weekday() == _day(hours) and _open_on(hours, start_day, wall):
                return True
    return False


def next_opening(policy: WifiPolicy, timezone: str, at: datetime) -> datetime | None:
    """The next local wall time the service opens after `at` (for the closed page)."""
    zone = ZoneInfo(timezone)
    wall = at.astimezone(zone).replace(tzinfo=None)
    best: datetime | None = None
    for days in range(8):
        day = wall + timedelta(days=days)
        for hours in policy.service_hours:
            if day.weekday() != _day(hours):
                continue
            opens = datetime.combine(day.date(), hours.opens)
            if opens > wall and (best is None or opens < best):
                best = opens
    return best


def opening_text(opens: datetime | None) -> str:
    """ "Mon 09:00" for the closed page (days as the CMS shows them)."""
    if opens is None:
        return ""
    return f"{_WEEKDAYS[opens.weekday()].title()} {opens.time().isoformat('minutes')}"
