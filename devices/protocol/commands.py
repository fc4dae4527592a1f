"""Commands the CMS sends one device, and the device's result (``ds.command/1``,
``ds.command-result/1``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, Field

from devices.protocol.base import Id, LongText, Message, Scalar, schema_field


class CommandName(StrEnum):
    REBOOT = "reboot"
    REFRESH = "refresh"
    SCREENSHOT = "screenshot"
    DISPLAY_ON = "display-on"
    DISPLAY_OFF = "display-off"
    IDENTIFY = "identify"
    DEAUTHORISE = "deauthorise"


class Command(Message):
    SCHEMA: ClassVar[str] = "ds.command/1"
    schema_name: Literal["ds.command/1"] = schema_field("ds.command/1")  # type: ignore[assignment]
    id: Id
    device_id: Id
    name: CommandName
    args: dict[Annotated[str, Field(max_length=64)], Scalar] = Field(default_factory=dict)
    issued_at: AwareDatetime
    expires_at: AwareDatetime


class CommandResult(Message):
    SCHEMA: ClassVar[str] = "ds.command-result/1"
    schema_name: Literal["ds.command-result/1"] = schema_field("ds.command-result/1")  # type: ignore[assignment]
    command_id: Id
    device_id: Id
    ok: bool
    detail: LongText = ""
    data: dict[Annotated[str, Field(max_length=64)], Scalar] = Field(default_factory=dict)
    at: AwareDatetime
