"""Device health: a metrics sample from the OS, plus Raspberry Pi sensors when present."""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import psutil

from devices.clock import Clock
from devices.protocol import Health, PortalHealth, Throttling

log = logging.getLogger(__name__)

# Bits of `vcgencmd get_throttled` (Raspberry Pi firmware documentation).
THROTTLE_FLAGS: dict[int, str] = {
    0: "under-voltage",
    1: "arm-frequency-capped",
    2: "throttled",
    3: "soft-temperature-limit",
    16: "under-voltage-occurred",
    17: "arm-frequency-capping-occurred",
    18: "throttling-occurred",
    19: "soft-temperature-limit-occurred",
}


def decode_throttled(raw: int) -> tuple[str, ...]:
    return tuple(name for bit, name in sorted(THROTTLE_FLAGS.items()) if raw & (1 << bit))


def parse_vcgencmd_throttled(output: str) -> int:
    """`throttled=0x50005` -> 0x50005."""
    _, _, value = output.strip().partition("=")
    return int(value, 16)


def parse_vcgencmd_temp(output: str) -> float:
    """`temp=48.3'C` -> 48.3."""
    _, _, value = output.strip().partition("=")
    return float(value.rstrip("'C"))


class PiSensors(Protocol):
    def temperature_c(self) -> float | None: ...

    def throttled(self) -> int | None: ...


Runner = Callable[[Sequence[str]], str]


def _run(command: Sequence[str]) -> str:
    return subprocess.run(command, capture_output=True, text=True, timeout=5, check=True).stdout


class VcgencmdSensors:
    """A real Pi: `vcgencmd` for throttling, the thermal zone (or vcgencmd) for temperature."""

    def __init__(
        self,
        runner: Runner = _run,
        thermal_zone: Path = Path("/sys/class/thermal/thermal_zone0/temp"),
    ) -> None:
        self._runner = runner
        self._thermal_zone = thermal_zone

    def temperature_c(self) -> float | None:
        try:
            return int(self._thermal_zone.read_text().strip()) / 1000
        except (OSError, ValueError):
            pass
        try:
            return parse_vcgencmd_temp(self._runner(["vcgencmd", "measure_temp"]))
        except (OSError, ValueError, subprocess.SubprocessError):
            return None

    def throttled(self) -> int | None:
        try:
            return parse_vcgencmd_throttled(self._runner(["vcgencmd", "get_throttled"]))
        except (OSError, ValueError, subprocess.SubprocessError):
            return None


class NoPiSensors:
    """Not a Pi (a development machine, CI): no temperature or throttling figures."""

    def temperature_c(self) -> float | None:
        return None

    def throttled(self) -> int | None:
        return None


class FakePiSensors:
    """Settable sensors for tests and the demo."""

    def __init__(self, temperature_c: float | None = 45.0, throttled: int | None = 0) -> None:
        self.temperature = temperature_c
        self.throttle_bits = throttled

    def temperature_c(self) -> float | None:
        return self.temperature

    def throttled(self) -> int | None:
        return self.throttle_bits


def default_sensors() -> PiSensors:
    return VcgencmdSensors() if shutil.which("vcgencmd") else NoPiSensors()


class HealthProbe:
    def __init__(
        self, device_id: str, data_dir: Path, clock: Clock, sensors: PiSensors | None = None
    ) -> None:
        self._device_id = device_id
        self._data_dir = data_dir
        self._clock = clock
        self._sensors = sensors or default_sensors()
        psutil.cpu_percent(interval=None)  # primes the counter: the next call measures since now

    def sample(
        self,
        *,
        outbox_pending: int = 0,
        outbox_dropped: int = 0,
        cache_used_bytes: int = 0,
        manifest_version: int | None = None,
        portal: PortalHealth | None = None,
    ) -> Health:
        memory = psutil.virtual_memory()
        disk = psutil.disk_usage(str(self._data_dir))
        network = psutil.net_io_counters()
        raw = self._sensors.throttled()
        return Health(
            device_id=self._device_id,
            at=self._clock.now(),
            uptime_s=max(0.0, time.time() - psutil.boot_time()),
            cpu_percent=min(100.0, psutil.cpu_percent(interval=None)),
            load_1m=psutil.getloadavg()[0],
            memory_used_percent=memory.percent,
            memory_available_bytes=memory.available,
            disk_used_percent=disk.percent,
            disk_free_bytes=disk.free,
            net_bytes_sent=network.bytes_sent if network else 0,
            net_bytes_recv=network.bytes_recv if network else 0,
            temperature_c=self._sensors.temperature_c(),
            throttling=None if raw is None else Throttling(raw=raw, flags=decode_throttled(raw)),
            outbox_pending=outbox_pending,
            outbox_dropped=outbox_dropped,
            cache_used_bytes=cache_used_bytes,
            manifest_version=manifest_version,
            portal=portal,
        )
