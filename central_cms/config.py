"""CMS configuration, read once at start-up into a frozen dataclass.

Sources, later ones winning: built-in defaults, a TOML file (``DS_CMS_CONFIG`` or the
``path`` argument), then ``DS_CMS_*`` environment variables. Every error names the key
and says how to fix it. Secrets that must survive restarts (the Flask secret key and
the manifest signing key) are created in the instance folder on first run.
"""

from __future__ import annotations

import logging
import os
import secrets
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from central_cms.sso_settings import SsoSettings, parse_sso
from devices.config import ConfigError
from devices.files import create_secret

ENV_PREFIX = "DS_CMS_"
# Names read before these settings were CMS keys; still honoured for one release.
DEPRECATED_ENV = {
    "DS_ANALYTICS_STORE": "analytics_store",
    "DS_INGEST_IN_PROCESS": "ingest_in_process",
}

log = logging.getLogger(__name__)


class CmsConfigError(ConfigError):
    """A CMS setting that stops start-up; same shape as a device's ConfigError."""


@dataclass(frozen=True)
class CmsConfig:
    instance_path: Path
    database_url: str
    secret_key: str
    public_url: str = "http://127.0.0.1:5000"
    mqtt_brokers: tuple[str, ...] = ("mqtt://127.0.0.1:1883",)
    # This process's broker account. The broker makes an account's username its client id
    # (issue 13, point 7), so each CMS process needs its own: gunicorn workers get
    # cms-1, cms-2, ... (central_cms/gunicorn_conf.py), ingest processes ingest-1, ...
    mqtt_username: str = "cms-1"
    mqtt_password: str = ""  # shared by the service accounts below
    # How many of each service account `export-broker` writes (cms-1.., ingest-1..).
    mqtt_cms_accounts: int = 4
    mqtt_ingest_accounts: int = 2
    # The account of the ingest the CMS runs in-process (ingest_in_process, the demo).
    mqtt_ingest_username: str = "ingest-1"
    # The analytics store URL (`digital-spaces ingest --store` writes the same one);
    # empty: the SQLite file analytics.sqlite3 in the instance folder.
    analytics_store: str = ""
    # Run the ingest on a thread of the CMS process (small installs, the demo).
    ingest_in_process: bool = False
    # Screens: a screenshot older than this is replaced (and the per-device rate limit).
    screenshot_max_age_s: float = 30.0
    manifest_horizon_days: int = 14
    # How often each CMS process ticks manifest renewal (one process renews per tick).
    manifest_renewal_minutes: int = 5
    max_upload_mb: int = 200
    max_image_pixels: int = 40_000_000
    secure_cookies: bool = False
    login_attempts_per_15min: int = 5
    # Reverse proxies in front of the CMS whose X-Forwarded-For/-Proto to believe (nginx: 1).
    # Login limits count per address, so behind a proxy left at 0 every visitor would share
    # the proxy's address and one attacker could lock everybody out.
    trusted_proxies: int = 0
    # Published to devices in their config file, so they know which brokers to try.
    device_brokers: tuple[str, ...] = ("mqtt://127.0.0.1:1883",)
    # Where a promotion's link may send people (issue 14): hosts ("bookings.city.gov"),
    # every subdomain of one ("*.city.gov") or URL prefixes ("https://city.gov/leisure/").
    # The default suits the demo only (example.org is reserved for examples): set the city's.
    link_destinations: tuple[str, ...] = ("example.org", "*.example.org")
    # Plain http destinations are refused unless this is on (a site without TLS yet).
    link_allow_http: bool = False
    # The address QR codes carry, /l/<code> on it; empty: public_url. Set it when staff
    # reach the CMS on an internal name but phones must come in from the internet.
    link_base_url: str = ""
    # Keys the short links' codes (central_cms/links.py); changing it changes every code,
    # so printed ones stop working. Created in the instance folder on first run.
    link_secret: str = ""
    # Scans one address may make per minute before /l/ answers 429 (code guessing, bots).
    link_scans_per_minute: int = 60
    # Internal hosts live feeds may be fetched from (issue 17): a feed may only come from a
    # public address, so staff cannot point the CMS server at 127.0.0.1, the cloud's
    # metadata address or the database (central_cms/feeds/addresses.py). Entries: a host
    # ("bookings.intranet"), every subdomain ("*.intranet.city.gov"), an address or a
    # network ("10.20.0.5", "10.20.0.0/16", "[fd00::5]"), each with an optional ":port".
    feed_internal_hosts: tuple[str, ...] = ()
    # Where scheduled report e-mails go out (central_cms/report_mail.py):
    # smtp://[user:password@]host:port or smtps://...; empty: no e-mail is sent.
    smtp_url: str = ""
    mail_from: str = "Digital Spaces <reports@localhost>"
    # Single sign-on through an OpenID provider (central_cms/sso_settings.py); off by default.
    sso: SsoSettings = field(default_factory=SsoSettings)
    extra: Mapping[str, object] = field(default_factory=dict)

    @property
    def media_path(self) -> Path:
        return self.instance_path / "media"

    @property
    def signing_key_path(self) -> Path:
        return self.instance_path / "cms-signing-key.pem"

    def with_changes(self, **changes: object) -> CmsConfig:
        return replace(self, **changes)  # type: ignore[arg-type]


_INT_KEYS = {
    "manifest_horizon_days": (1, 60),
    "manifest_renewal_minutes": (1, 1440),
    "max_upload_mb": (1, 4096),
    "max_image_pixels": (1_000_000, 500_000_000),
    "login_attempts_per_15min": (1, 1000),
    "trusted_proxies": (0, 5),
    "mqtt_cms_accounts": (1, 256),
    "mqtt_ingest_accounts": (1, 256),
    "link_scans_per_minute": (1, 10_000),
}
_FLOAT_KEYS: dict[str, tuple[float, float]] = {"screenshot_max_age_s": (5, 3600)}
_LIST_KEYS = {"mqtt_brokers", "device_brokers"}
_DESTINATION_KEYS = {"link_destinations"}
_FEED_HOST_KEYS = {"feed_internal_hosts"}
_BOOL_KEYS = {"secure_cookies", "ingest_in_process", "link_allow_http"}
_STR_KEYS = {
    "database_url",
    "secret_key",
    "public_url",
    "mqtt_username",
    "mqtt_password",
    "mqtt_ingest_username",
    "analytics_store",
    "link_base_url",
    "link_secret",
    "smtp_url",
    "mail_from",
}
KNOWN_KEYS = (
    {"instance_path", "sso"}
    | set(_INT_KEYS)
    | set(_FLOAT_KEYS)
    | _LIST_KEYS
    | _DESTINATION_KEYS
    | _FEED_HOST_KEYS
    | _BOOL_KEYS
    | _STR_KEYS
)


def _number(key: str, raw: object, kind: type[int] | type[float]) -> float:
    low, high = _INT_KEYS[key] if kind is int else _FLOAT_KEYS[key]
    what = "a whole number" if kind is int else "a number"
    try:
        value = kind(str(raw))
    except ValueError:
        raise CmsConfigError(key, f"{raw!r} is not {what}", f"use {low}..{high}") from None
    if not low <= value <= high:
        raise CmsConfigError(key, f"{value} is out of range", f"use {low}..{high}")
    return value


def _bool(key: str, raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    raise CmsConfigError(key, f"{raw!r} is not a boolean", "use true or false")


def _list(key: str, raw: object) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else str(raw).split(",")
    values = tuple(str(item).strip() for item in items if str(item).strip())
    for value in values:
        if not value.startswith(("mqtt://", "mqtts://")):
            raise CmsConfigError(key, f"{value!r} is not a broker URL", "use mqtt://host:port")
    if not values:
        raise CmsConfigError(key, "is empty", "give at least one mqtt://host:port")
    return values


def _checked_entries(
    key: str, raw: object, problem_of: Callable[[str], str | None], example: str
) -> tuple[str, ...]:
    """A TOML list or comma-separated `DS_*` value, each entry held to `problem_of`."""
    items = raw if isinstance(raw, list) else str(raw).split(",")
    values = tuple(str(item).strip() for item in items if str(item).strip())
    for value in values:
        problem = problem_of(value)
        if problem:
            raise CmsConfigError(key, f"{value!r} {problem}", example)
    return values


def _destinations(key: str, raw: object) -> tuple[str, ...]:
    from central_cms.links import destination_problem

    return _checked_entries(
        key,
        raw,
        destination_problem,
        "use bookings.city.gov, *.city.gov or https://city.gov/leisure/",
    )


def _feed_hosts(key: str, raw: object) -> tuple[str, ...]:
    from central_cms.feeds.addresses import entry_problem

    return _checked_entries(
        key,
        raw,
        entry_problem,
        "use bookings.intranet, *.intranet.city.gov, 10.20.0.5:8080 or 10.20.0.0/16",
    )


def _secret_key(instance: Path, name: str = "secret_key") -> str:
    path = instance / name
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    key = secrets.token_hex(32)
    create_secret(path, key.encode("ascii"))
    return key


def load_config(
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
    *,
    instance_path: Path | None = None,
) -> CmsConfig:
    """Build the configuration; creates the instance folder and its secret key if new."""
    env = os.environ if env is None else env
    raw: dict[str, object] = {}
    path = path or (Path(env[f"{ENV_PREFIX}CONFIG"]) if f"{ENV_PREFIX}CONFIG" in env else None)
    if path is not None:
        try:
            table = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise CmsConfigError("config", f"cannot read {path}: {error}", "fix the file") from None
        raw.update(table.get("cms", table))
    for old, key in DEPRECATED_ENV.items():
        if old in env and f"{ENV_PREFIX}{key.upper()}" not in env:
            log.warning("%s is deprecated: set %s%s instead", old, ENV_PREFIX, key.upper())
            raw[key] = env[old]
    for key in KNOWN_KEYS:
        if f"{ENV_PREFIX}{key.upper()}" in env:
            raw[key] = env[f"{ENV_PREFIX}{key.upper()}"]
    unknown = set(raw) - KNOWN_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise CmsConfigError(key, "is not a CMS setting", f"use one of {sorted(KNOWN_KEYS)}")
    instance = Path(str(raw.pop("instance_path", instance_path or "instance"))).resolve()
    instance.mkdir(parents=True, exist_ok=True)
    values: dict[str, object] = {}
    try:
        values["sso"] = parse_sso(raw.pop("sso", None), env)
    except ConfigError as error:
        raise CmsConfigError(error.key, error.problem, error.fix) from None
    for key, value in raw.items():
        if key in _INT_KEYS:
            values[key] = int(_number(key, value, int))
        elif key in _FLOAT_KEYS:
            values[key] = _number(key, value, float)
        elif key in _BOOL_KEYS:
            values[key] = _bool(key, value)
        elif key in _LIST_KEYS:
            values[key] = _list(key, value)
        elif key in _DESTINATION_KEYS:
            values[key] = _destinations(key, value)
        elif key in _FEED_HOST_KEYS:
            values[key] = _feed_hosts(key, value)
        else:
            values[key] = str(value)
    values.setdefault("database_url", f"sqlite:///{instance / 'cms.sqlite3'}")
    values.setdefault("secret_key", _secret_key(instance))
    values.setdefault("link_secret", _secret_key(instance, "link_secret"))
    for url_key in ("public_url", "link_base_url"):
        if url_key in values:
            values[url_key] = str(values[url_key]).rstrip("/")
    return CmsConfig(instance_path=instance, **values)  # type: ignore[arg-type]
