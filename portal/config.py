"""The ``[portal]`` section of a portal node's device TOML, read once into a frozen dataclass.

```toml
[portal]
secret = "64 random hex characters"  # signs form state and tracker links; keys MAC hashes
listen = "10.77.1.1:8000"            # where the web server binds (the gateway's FAS address)
gateway = "opennds"                  # or "recording" (demo, tests)
fas_level = 2                        # openNDS fas_secure_enabled: 1 or 2
faskey = "..."                       # openNDS faskey
gateway_addresses = ["10.77.1.1:2050"]  # accepted gatewayaddress values ([] = any)
ndsctl = ["ndsctl"]                  # the command that reaches openNDS's control socket
ndsctl_socket = "/tmp/ndsctl.sock"   # or speak to the socket itself (faster; issue 16)
gateway_interface = "br-lan"         # openNDS's gatewayinterface (walled garden, IPv6 guard)
firewall_command = []                # prefix for iptables/nft (e.g. ["ip", "netns", "exec", "gw"])
admission_max_waiting = 256          # visitors queued for openNDS before "try again" (503)
admission_max_wait_s = 10.0          # longest a visitor waits to be let online
visitor_period_days = 90
rate_per_s = 5.0                     # token bucket per client, per worker process
rate_burst = 40
workers = 2                          # web server processes, at most one per core
threads = 2                          # Python threads per worker (bench/portal.py)
pin_workers = true                   # each worker on a core of its own, if there are enough
newsletter_url = "https://cms.example.org/device-api/v1/newsletter-signups"  # optional
public_url = "https://wifi.cannington.example/"  # optional; default http://<listen>/
access_log = false                   # Granian logs every request (debugging only)
```

`public_url` is where visitors reach the splash: the OS probes redirect there and RFC 8908's
`user-portal-url` names it (RFC 8908 wants https, so give one when the site has a
certificate). It is configured, never built from a request's Host header (issue 13).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from devices.config import ConfigError

_ADDRESS = re.compile(r"^([0-9A-Za-z.\-]+|\[[0-9a-fA-F:]+\]):([0-9]{1,5})$")


class GatewayKind(StrEnum):
    OPENNDS = "opennds"
    RECORDING = "recording"


@dataclass(frozen=True)
class PortalConfig:
    secret: bytes
    faskey: str
    listen_host: str = "127.0.0.1"
    listen_port: int = 8000
    gateway: GatewayKind = GatewayKind.OPENNDS
    fas_level: int = 2
    gateway_addresses: tuple[str, ...] = ()
    ndsctl: tuple[str, ...] = ("ndsctl",)
    ndsctl_socket: Path | None = None
    firewall_command: tuple[str, ...] = ()
    gateway_interface: str = "br-lan"
    admission_max_waiting: int = 256
    admission_max_wait_s: float = 10.0
    visitor_period_days: int = 90
    rate_per_s: float = 5.0
    rate_burst: int = 40
    workers: int = 2
    threads: int = 2
    pin_workers: bool = True
    state_max_age_s: int = 1800
    session_poll_s: float = 15.0
    newsletter_url: str | None = None
    default_language: str = "en"
    public_url: str | None = None
    access_log: bool = False

    @property
    def portal_url(self) -> str:
        """The splash page's absolute URL, ending in "/"."""
        if self.public_url:
            return self.public_url
        host = f"[{self.listen_host}]" if ":" in self.listen_host else self.listen_host
        return f"http://{host}:{self.listen_port}/"


def _public_url(value: object) -> str | None:
    if value is None:
        return None
    fix = "write the splash's address, e.g. https://wifi.example.org/, or leave it out"
    if not isinstance(value, str):
        raise ConfigError("portal.public_url", "not a string", fix)
    parts = urlsplit(value)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        # The app's links are root-relative, so the portal must be the root of its origin.
        raise ConfigError(
            "portal.public_url", f"{value!r} is not an http(s) origin with nothing after it", fix
        )
    return f"{parts.scheme}://{parts.netloc}/"


def _interface(value: object) -> str:
    if not isinstance(value, str) or not re.match(r"^[A-Za-z0-9_.-]{1,15}$", value):
        raise ConfigError(
            "portal.gateway_interface", f"{value!r} is not an interface name", 'e.g. "br-lan"'
        )
    return value


def parse_portal_config(section: Mapping[str, object]) -> PortalConfig:
    def text(key: str, default: str | None = None) -> str:
        value = section.get(key, default)
        if not isinstance(value, str) or not value:
            raise ConfigError(f"portal.{key}", "missing or not a string", f"set portal.{key}")
        return value

    def number(key: str, default: float, minimum: float, maximum: float) -> float:
        value = section.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"portal.{key}", f"{value!r} is not a number", "write a number")
        if not minimum <= value <= maximum:
            raise ConfigError(
                f"portal.{key}", f"{value} is out of range", f"use {minimum} to {maximum}"
            )
        return float(value)

    def flag(key: str, default: bool) -> bool:
        value = section.get(key, default)
        if not isinstance(value, bool):
            raise ConfigError(f"portal.{key}", f"{value!r} is not true or false", "write true")
        return value

    def strings(key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = section.get(key, list(default))
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"portal.{key}", "not a list of strings", 'write ["a", "b"]')
        return tuple(value)

    secret = text("secret")
    if len(secret) < 32:
        raise ConfigError(
            "portal.secret", "shorter than 32 characters", "use 64 random hex characters"
        )
    listen = text("listen", "127.0.0.1:8000")
    match = _ADDRESS.match(listen)
    if not match or not 0 < int(match.group(2)) < 65536:
        raise ConfigError("portal.listen", f"{listen!r} is not host:port", "e.g. 10.0.0.1:8000")
    try:
        gateway = GatewayKind(text("gateway", "opennds"))
    except ValueError:
        raise ConfigError("portal.gateway", "unknown gateway", "use opennds or recording") from None
    fas_level = int(number("fas_level", 2, 1, 2))
    addresses = strings("gateway_addresses", ())
    for address in addresses:
        if not re.match(r"^\d{1,3}(\.\d{1,3}){3}:\d{1,5}$", address):
            raise ConfigError(
                "portal.gateway_addresses", f"{address!r} is not IPv4:port", "e.g. 10.0.0.1:2050"
            )
    ndsctl = strings("ndsctl", ("ndsctl",))
    if not ndsctl:
        raise ConfigError("portal.ndsctl", "empty", 'use ["ndsctl"]')
    ndsctl_socket = section.get("ndsctl_socket")
    if ndsctl_socket is not None and (
        not isinstance(ndsctl_socket, str) or not ndsctl_socket.startswith("/")
    ):
        raise ConfigError("portal.ndsctl_socket", "not an absolute path", 'e.g. "/tmp/ndsctl.sock"')
    newsletter = section.get("newsletter_url")
    if newsletter is not None and (
        not isinstance(newsletter, str) or not newsletter.startswith(("http://", "https://"))
    ):
        raise ConfigError("portal.newsletter_url", "not an http(s) URL", "or leave it out")
    return PortalConfig(
        secret=secret.encode(),
        faskey=text("faskey"),
        listen_host=match.group(1).strip("[]"),
        listen_port=int(match.group(2)),
        gateway=gateway,
        fas_level=fas_level,
        gateway_addresses=addresses,
        ndsctl=ndsctl,
        ndsctl_socket=Path(ndsctl_socket) if ndsctl_socket else None,
        firewall_command=strings("firewall_command", ()),
        gateway_interface=_interface(section.get("gateway_interface", "br-lan")),
        admission_max_waiting=int(number("admission_max_waiting", 256, 1, 100_000)),
        admission_max_wait_s=number("admission_max_wait_s", 10.0, 0.5, 120),
        visitor_period_days=int(number("visitor_period_days", 90, 1, 3650)),
        rate_per_s=number("rate_per_s", 5.0, 0.1, 1e9),
        rate_burst=int(number("rate_burst", 40, 1, 1e9)),
        workers=int(number("workers", 2, 1, 64)),
        threads=int(number("threads", 2, 1, 256)),
        pin_workers=flag("pin_workers", True),
        state_max_age_s=int(number("state_max_age_s", 1800, 60, 86400)),
        session_poll_s=number("session_poll_s", 15.0, 0.05, 3600),
        newsletter_url=newsletter,
        default_language=text("default_language", "en"),
        public_url=_public_url(section.get("public_url")),
        access_log=flag("access_log", False),
    )
