"""What a device reports about itself: its status (online, what it shows) and its
health figures (``ds.status/1``, ``ds.health/1``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field, SerializerFunctionWrapHandler, model_serializer

from devices.protocol.base import DeviceKind, Frozen, Id, Message, ShortText, schema_field
from devices.protocol.releases import UpdateReport


class DeviceState(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"


class DisplayPower(StrEnum):
    """Whether the panel itself is on (issue 18): off outside its power schedule (the
    site's opening hours or its own), or turned off by the display-off command."""

    ON = "on"
    SCHEDULED_OFF = "scheduled-off"
    OFF = "off"


class NowShowing(Frozen):
    item_id: Id | None
    campaign_id: Id | None = None
    alert_id: Id | None = None
    since: AwareDatetime
    display: DisplayPower = DisplayPower.ON


class Status(Message):
    SCHEMA: ClassVar[str] = "ds.status/1"
    schema_name: Literal["ds.status/1"] = schema_field("ds.status/1")  # type: ignore[assignment]
    device_id: Id
    kind: DeviceKind
    state: DeviceState
    software_version: ShortText
    manifest_version: int | None = None
    now_showing: NowShowing | None = None
    at: AwareDatetime
    update: UpdateReport | None = None  # the latest software update attempt (issue 18)


class Throttling(Frozen):
    """`vcgencmd get_throttled`, as the raw bit field and its decoded flag names."""

    raw: int = Field(ge=0)
    flags: tuple[ShortText, ...] = ()


class PortalHealth(Frozen):
    """A portal node's Wi-Fi figures for IT's fleet view (issue 16): visitors online now,
    and what happened in the `window_s` seconds since the node's previous sample."""

    visitors_online: int = Field(ge=0)
    window_s: float = Field(gt=0)
    authorisations: int = Field(default=0, ge=0)  # visitors let online
    failures: int = Field(default=0, ge=0)  # accepts refused: expired, replayed, unknown
    quota_hits: int = Field(default=0, ge=0)  # sessions that used up their data quota


class Health(Message):
    SCHEMA: ClassVar[str] = "ds.health/1"
    schema_name: Literal["ds.health/1"] = schema_field("ds.health/1")  # type: ignore[assignment]
    device_id: Id
    at: AwareDatetime
    uptime_s: float = Field(ge=0)
    cpu_percent: float = Field(ge=0, le=100)
    load_1m: float = Field(ge=0)
    memory_used_percent: float = Field(ge=0, le=100)
    memory_available_bytes: int = Field(ge=0)
    disk_used_percent: float = Field(ge=0, le=100)
    disk_free_bytes: int = Field(ge=0)
    net_bytes_sent: int = Field(ge=0)
    net_bytes_recv: int = Field(ge=0)
    temperature_c: float | None = None
    throttling: Throttling | None = None
    outbox_pending: int = Field(default=0, ge=0)
    outbox_dropped: int = Field(default=0, ge=0)
    cache_used_bytes: int = Field(default=0, ge=0)
    manifest_version: int | None = None
    portal: PortalHealth | None = None  # portal nodes only (issue 16)

    @model_serializer(mode="wrap")
    def _omit_no_portal(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        # A signage player's sample, and a CMS from before issue 16, know no `portal`.
        data: dict[str, object] = handler(self)
        if data.get("portal") is None:
            data.pop("portal", None)
        return data
