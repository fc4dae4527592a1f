"""Device configuration: one TOML file, read once at start-up into frozen dataclasses.

A bad or missing setting stops start-up with a ConfigError naming the key and the fix.
The CMS writes this file at device registration (`device_config_toml`).
"""

from __future__ import annotations

import argparse
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from urllib.parse import urlsplit

from devices.protocol import DeviceKind, ProtocolError, PublicKey, validate_id

_MB = 1024 * 1024


class ConfigError(Exception):
    def __init__(self, key: str, problem: str, fix: str) -> None:
        super().__init__(f"{key}: {problem}. {fix}")
        self.key = key
        self.problem = problem
        self.fix = fix


@dataclass(frozen=True)
class BrokerUrl:
    host: str
    port: int
    tls: bool

    @classmethod
    def parse(cls, url: str, key: str = "mqtt.brokers") -> BrokerUrl:
        parts = urlsplit(url)
        if parts.scheme not in {"mqtt", "mqtts"} or not parts.hostname:
            raise ConfigError(
                key,
                f"{url!r} is not a broker URL",
                "write it as mqtt://host:1883 or mqtts://host:8883",
            )
        tls = parts.scheme == "mqtts"
        try:
            port = parts.port or (8883 if tls else 1883)
        except ValueError:
            raise ConfigError(key, f"{url!r} has a bad port", "use a number 1-65535") from None
        return cls(parts.hostname, port, tls)

    def __str__(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


@dataclass(frozen=True)
class MqttSettings:
    brokers: tuple[BrokerUrl, ...]
    username: str | None = None
    password: str | None = None
    ca_file: Path | None = None
    keepalive_s: int = 30
    # Spread the first connect of a fleet that boots together (power cut across a site):
    # a thousand simultaneous connects overflow the broker's listen backlog.
    connect_jitter_s: float = 5.0


@dataclass(frozen=True)
class DeviceConfig:
    device_id: str
    kind: DeviceKind
    data_dir: Path
    mqtt: MqttSettings
    public_keys: tuple[PublicKey, ...]
    asset_token: str
    cache_budget_bytes: int = 2048 * _MB
    outbox_budget_bytes: int = 64 * _MB
    health_interval_s: float = 60.0
    outbox_resend_s: float = 30.0
    sections: Mapping[str, Mapping[str, object]] = field(
        default_factory=lambda: MappingProxyType({})
    )

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def outbox_path(self) -> Path:
        return self.data_dir / "outbox.sqlite3"

    @property
    def state_dir(self) -> Path:
        return self.data_dir / "state"


def config_path_argument(argv: Sequence[str] | None, *, prog: str, description: str | None) -> Path:
    """The `--config device.toml` every device process (player, portal) is started with:
    the launcher and the systemd unit pass it, `load_device_config` reads it."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--config", type=Path, required=True, help="the device TOML file")
    return Path(parser.parse_args(argv).config)


def load_device_config(path: Path) -> DeviceConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            "config", f"{path} does not exist", "pass --config with the file the CMS made"
        ) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(
            "config", f"{path} is not valid TOML ({error})", "fix the syntax"
        ) from None
    return parse_device_config(raw, base_dir=path.parent)


def parse_device_config(raw: Mapping[str, object], base_dir: Path = Path()) -> DeviceConfig:
    device = _table(raw, "device")
    mqtt = _table(raw, "mqtt")
    cms = _table(raw, "cms")
    budgets = _table(raw, "budgets", required=False)
    intervals = _table(raw, "intervals", required=False)

    device_id = _str(device, "device.id")
    try:
        validate_id(device_id)
    except ProtocolError as error:
        raise ConfigError("device.id", error.reason, "use the id the CMS registered") from None
    kind_text = _str(device, "device.kind")
    try:
        kind = DeviceKind(kind_text)
    except ValueError:
        raise ConfigError(
            "device.kind", f"{kind_text!r} is not a device kind", "use signage or portal"
        ) from None

    broker_list = mqtt.get("brokers")
    if not isinstance(broker_list, list) or not broker_list:
        raise ConfigError(
            "mqtt.brokers", "missing or empty", 'list at least one, e.g. ["mqtt://cms:1883"]'
        )
    brokers = tuple(BrokerUrl.parse(str(url)) for url in broker_list)
    ca_file = mqtt.get("ca_file")
    settings = MqttSettings(
        brokers=brokers,
        username=_optional_str(mqtt, "mqtt.username"),
        password=_optional_str(mqtt, "mqtt.password"),
        ca_file=(base_dir / str(ca_file)) if ca_file else None,
        keepalive_s=int(_number(mqtt, "mqtt.keepalive_s", 30, minimum=5)),
        connect_jitter_s=_number(mqtt, "mqtt.connect_jitter_s", 5.0, minimum=0),
    )
    if settings.ca_file is not None and not settings.ca_file.exists():
        raise ConfigError("mqtt.ca_file", f"{settings.ca_file} does not exist", "copy the CA there")

    key_texts = cms.get("public_keys")
    if not isinstance(key_texts, list) or not key_texts:
        raise ConfigError(
            "cms.public_keys",
            "missing or empty",
            "copy the key printed by `digital-spaces cms public-key`",
        )
    try:
        keys = tuple(PublicKey.from_text(str(text)) for text in key_texts)
    except ProtocolError as error:
        raise ConfigError("cms.public_keys", error.reason, "copy the key exactly") from None

    data_dir = Path(_str(device, "device.data_dir"))
    if not data_dir.is_absolute():
        data_dir = base_dir / data_dir

    own = {"device", "mqtt", "cms", "budgets", "intervals"}
    sections = {
        name: MappingProxyType(dict(value))
        for name, value in raw.items()
        if name not in own and isinstance(value, dict)
    }
    return DeviceConfig(
        device_id=device_id,
        kind=kind,
        data_dir=data_dir,
        mqtt=settings,
        public_keys=keys,
        asset_token=_str(cms, "cms.asset_token"),
        cache_budget_bytes=int(_number(budgets, "budgets.cache_mb", 2048, minimum=16) * _MB),
        outbox_budget_bytes=int(_number(budgets, "budgets.outbox_mb", 64, minimum=1) * _MB),
        health_interval_s=_number(intervals, "intervals.health_s", 60, minimum=1),
        outbox_resend_s=_number(intervals, "intervals.outbox_resend_s", 30, minimum=0.1),
        sections=MappingProxyType(sections),
    )


def device_config_toml(
    *,
    device_id: str,
    kind: DeviceKind,
    brokers: Sequence[str],
    username: str,
    password: str,
    public_keys: Sequence[str],
    asset_token: str,
    data_dir: str = "/var/lib/digital-spaces",
    ca_file: str | None = None,
    extra: str = "",
) -> str:
    """The file the CMS hands out at registration; parses back with load_device_config."""
    lines = [
        "# Digital Spaces device configuration. Keep it secret: it holds credentials.",
        "[device]",
        f"id = {_quote(device_id)}",
        f"kind = {_quote(kind.value)}",
        f"data_dir = {_quote(data_dir)}",
        "",
        "[mqtt]",
        f"brokers = [{', '.join(_quote(b) for b in brokers)}]",
        f"username = {_quote(username)}",
        f"password = {_quote(password)}",
    ]
    if ca_file:
        lines.append(f"ca_file = {_quote(ca_file)}")
    lines += [
        "",
        "[cms]",
        f"public_keys = [{', '.join(_quote(k) for k in public_keys)}]",
        f"asset_token = {_quote(asset_token)}",
        "",
    ]
    text = "\n".join(lines) + "\n"
    if extra:
        text += "\n" + extra.strip() + "\n"
    parse_device_config(tomllib.loads(text))  # never hand out a file that would not load
    return text


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    if any(ord(c) < 0x20 for c in escaped):
        raise ValueError("control characters are not allowed in configuration values")
    return f'"{escaped}"'


def _table(raw: Mapping[str, object], name: str, *, required: bool = True) -> Mapping[str, object]:
    value = raw.get(name)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(name, f"the [{name}] table is missing", f"add a [{name}] section")
    return value


def _str(table: Mapping[str, object], key: str) -> str:
    value = table.get(key.rsplit(".", 1)[-1])
    if not isinstance(value, str) or not value:
        raise ConfigError(key, "missing or not a string", f'set {key.rsplit(".", 1)[-1]} = "..."')
    return value


def _optional_str(table: Mapping[str, object], key: str) -> str | None:
    value = table.get(key.rsplit(".", 1)[-1])
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(key, "must be a string", "put the value in quotes")
    return value


def _number(table: Mapping[str, object], key: str, default: float, *, minimum: float) -> float:
    value = table.get(key.rsplit(".", 1)[-1], default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(key, f"{value!r} is not a number", f"write a number, e.g. {default}")
    if value < minimum:
        raise ConfigError(key, f"{value} is below the minimum", f"use at least {minimum}")
    return float(value)
