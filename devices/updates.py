"""The device's side of software updates (issue 18): take a signed release, install it
beside the running version, switch, and let the launcher judge the new one's health.

The agent hands every message on ``ds/v1/releases/+`` here and names the channel its
manifest follows (`use`). A release is taken only if its signature verifies with the
CMS key, its rollout includes this device, it is not the version running, and it has not
failed here before. Installing runs on a thread of its own, so playback goes on; then
`current` is switched and the agent is asked to restart (the launcher starts the new
release). The release on trial calls itself healthy (`confirm_healthy`) once it is
connected and has a verified manifest in force.

Settings, from the device TOML::

    [software]
    root = "/opt/digital-spaces"   # absent: updates are off (the device is updated by hand)
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from devices.cache import ContentCache
from devices.clock import Clock
from devices.config import ConfigError, DeviceConfig
from devices.http_fetch import CacheError
from devices.link import MqttLink
from devices.protocol import ProtocolError, PublicKey, parse_signed, parse_topic
from devices.protocol.releases import Release, UpdateReport, UpdateState
from devices.protocol.topics import RELEASES_WILDCARD, ReleaseTopic
from devices.software_home import InstallError, SoftwareHome

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SoftwareSettings:
    root: Path | None = None


def software_settings(section: Mapping[str, object]) -> SoftwareSettings:
    root = section.get("root")
    if root is None:
        return SoftwareSettings()
    if not isinstance(root, str) or not root.startswith("/"):
        raise ConfigError("software.root", f"{root!r} is not an absolute path", "e.g. /opt/ds")
    return SoftwareSettings(root=Path(root))


def wants(release: Release, device_id: str, running: str, failed: Mapping[str, str]) -> bool:
    """Whether this device should install `release` now (pure)."""
    return (
        release.version != running
        and release.version not in failed
        and release.rollout.includes(device_id)
    )


class SoftwareUpdater:
    def __init__(
        self,
        home: SoftwareHome | None,
        *,
        device_id: str,
        running_version: str,
        trusted: tuple[PublicKey, ...],
        cache: ContentCache,
        clock: Clock,
        restart: Callable[[], None],
        status_changed: Callable[[], None],
    ) -> None:
        self.home = home
        self.device_id = device_id
        self.running_version = running_version
        self._trusted = list(trusted)
        self._cache = cache
        self._clock = clock
        self._restart = restart
        self._status_changed = status_changed
        self._lock = threading.Lock()
        self._releases: dict[str, Release] = {}
        self._channel: str | None = None
        self._busy = False
        self._report = home.record().last if home is not None else None
        self.refused = 0

    @classmethod
    def for_device(
        cls,
        config: DeviceConfig,
        running_version: str,
        cache: ContentCache,
        clock: Clock,
        restart: Callable[[], None],
        *,
        status_changed: Callable[[], None],
    ) -> SoftwareUpdater:
        """The updater the device TOML's ``[software]`` table asks for (off without it)."""
        root = software_settings(config.sections.get("software", {})).root
        return cls(
            SoftwareHome(root) if root is not None else None,
            device_id=config.device_id,
            running_version=running_version,
            trusted=config.public_keys,
            cache=cache,
            clock=clock,
            restart=restart,
            status_changed=status_changed,
        )

    def attach(self, link: MqttLink) -> None:
        if self.home is not None:
            link.subscribe(RELEASES_WILDCARD, self.on_message)

    def use(self, channel: str | None) -> None:
        """The channel the manifest in force follows."""
        with self._lock:
            self._channel = channel
        self._consider()

    def report(self) -> UpdateReport | None:
        with self._lock:
            return self._report

    def on_message(self, topic: str, payload: bytes) -> None:
        if not payload:
            return  # a channel's release withdrawn from the broker; nothing to do
        try:
            parsed = parse_topic(topic)
            release = parse_signed(Release, payload, self._trusted)
            if not isinstance(parsed, ReleaseTopic) or parsed.channel != release.channel:
                raise ProtocolError("channel", f"release for {release.channel} sent on {topic}")
        except ProtocolError as error:
            self.refused += 1
            log.warning("release refused on %s: %s", topic, error)
            return
        with self._lock:
            self._releases[release.channel] = release
        self._consider()

    def confirm_healthy(self) -> None:
        """Called by the agent once connected with a verified manifest in force."""
        if self.home is None:
            return
        trial = self.home.record().trial
        if trial is None or trial.version != self.running_version:
            return
        if self.home.healthy_version() != trial.version:
            log.info("release %s on trial is healthy", trial.version)
            self.home.mark_healthy(trial.version)  # the launcher makes it the good release
            self._set_report(trial.version, UpdateState.INSTALLED, "healthy")

    def _consider(self) -> None:
        if self.home is None:
            return
        with self._lock:
            release = self._releases.get(self._channel) if self._channel else None
            failed = self.home.record().failed
            if self._busy or release is None:
                return
            if not wants(release, self.device_id, self.running_version, failed):
                return
            self._busy = True
        threading.Thread(
            target=self._install, args=(release,), name=f"update-{release.version}", daemon=True
        ).start()

    def _install(self, release: Release) -> None:
        assert self.home is not None
        home = self.home
        self._set_report(release.version, UpdateState.INSTALLING)
        try:
            cached = self._cache.ensure(release.wheel)
            wheel = home.root / "downloads" / f"digital_spaces-{release.version}-py3-none-any.whl"
            wheel.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(cached, wheel)
            home.install(wheel, release.version)
        except (CacheError, InstallError, OSError) as error:
            log.error("release %s not installed: %s", release.version, error)
            self._set_report(release.version, UpdateState.FAILED, str(error))
            with self._lock:
                self._busy = False
            return
        report = self._set_report(release.version, UpdateState.TRIAL, "starting it")
        home.begin_trial(release.version, previous=self.running_version, report=report)
        log.info("release %s installed; restarting into it", release.version)
        self._restart()

    def _set_report(self, version: str, state: UpdateState, detail: str = "") -> UpdateReport:
        now = self._clock.now()
        report = UpdateReport(version=version, state=state, detail=detail[:200], at=now)
        with self._lock:
            self._report = report
        self._status_changed()
        return report
