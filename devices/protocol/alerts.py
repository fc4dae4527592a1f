"""Alerts that override scheduled content on a scope of devices (``ds.alert/1``)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, Field

from devices.protocol.base import DeviceKind, Id, LongText, Message, ShortText, schema_field


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    EMERGENCY = "emergency"


class Alert(Message):
    """Overrides scheduled content on the targeted devices until it expires or is cleared.

    One alert is retained per scope. The CMS stamps every message it sends on a scope
    (send, edit, clear) with a higher `revision`, under a lock shared by its processes,
    and signs it with the rest; a device keeps the message that is latest by `order`
    (issue 13), so a clear or an edit always supersedes, and replaying an older signed
    message, retained or not, cannot roll it back. An alert with `cleared` true ends it
    early.
    """

    SCHEMA: ClassVar[str] = "ds.alert/1"
    schema_name: Literal["ds.alert/1"] = schema_field("ds.alert/1")  # type: ignore[assignment]
    id: Id
    scope: Id
    severity: Severity = Severity.WARNING
    title: ShortText
    body: LongText = ""
    issued_at: AwareDatetime
    expires_at: AwareDatetime
    cleared: bool = False
    kinds: tuple[DeviceKind, ...] = ()  # empty: every kind of device
    # 0: sent before revisions existed (those are ordered by issued_at alone).
    revision: Annotated[int, Field(ge=0)] = 0

    @property
    def order(self) -> tuple[int, datetime]:
        """Where this message stands among those sent on its scope: a higher revision is
        newer; between messages without one, the later `issued_at`."""
        return (self.revision, self.issued_at)

    def active_at(self, at: datetime) -> bool:
        return not self.cleared and self.issued_at <= at < self.expires_at

    def applies_to(self, kind: DeviceKind) -> bool:
        return not self.kinds or kind in self.kinds
