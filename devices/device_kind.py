"""The seam between the shared device agent and a device kind (signage player, portal node).

The agent (devices/agent.py) owns the MQTT link, signature checks, the content cache,
the outbox, status, health and the last good manifest on disk. A device kind owns what
it does with a manifest: play it on a screen, or serve it as a splash page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from devices.clock import Clock
from devices.feeds import FeedReader
from devices.protocol import (
    Alert,
    Command,
    DeviceKind,
    EventData,
    Manifest,
    NowShowing,
    PortalHealth,
)
from devices.protocol.base import Scalar


@dataclass(frozen=True)
class CommandOutcome:
    ok: bool
    detail: str = ""
    data: Mapping[str, Scalar] = field(default_factory=dict)


class AssetStore(Protocol):
    """Read access to verified assets in the content cache."""

    def path(self, sha256: str) -> Path | None:
        """The installed, verified file for this hash, or None."""
        ...


class AgentServices(Protocol):
    """What the agent offers a device kind."""

    @property
    def device_id(self) -> str: ...

    @property
    def kind(self) -> DeviceKind: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def assets(self) -> AssetStore: ...

    def record(self, data: EventData) -> None:
        """Write an analytics event to the outbox; it reaches the CMS when it can."""
        ...

    def status_changed(self) -> None:
        """Now-showing changed: publish a fresh retained status."""
        ...

    @property
    def feeds(self) -> FeedReader:
        """The live feeds the manifest names: `feeds.latest(feed_id, now)`."""
        ...


class DeviceApplication(Protocol):
    """A device kind, driven by the agent. Calls come from the agent's threads; each
    method must return promptly (do long work on your own thread)."""

    def start(self, services: AgentServices) -> None:
        """Once, before the first manifest. Start threads here."""
        ...

    def apply_manifest(self, manifest: Manifest) -> None:
        """A verified manifest, newer than any before, whose every asset is in the cache."""
        ...

    def apply_alerts(self, alerts: Sequence[Alert]) -> None:
        """The current verified alerts for this device (one per scope, possibly expired or
        cleared); the device decides which is active from its own clock."""
        ...

    def run_command(self, command: Command) -> CommandOutcome:
        """A verified, unexpired command addressed to this device."""
        ...

    def now_showing(self) -> NowShowing | None: ...

    def stop(self) -> None:
        """Stop threads and release the display or web server."""
        ...


@runtime_checkable
class ReportsPortalHealth(Protocol):
    """A device kind that adds Wi-Fi figures to each health sample (portal nodes,
    issue 16); the agent asks it once per sample."""

    def portal_health(self) -> PortalHealth: ...
