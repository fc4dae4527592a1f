"""The building blocks every message model shares: constrained field types, the frozen
strict base and the top-level `Message` (DESIGN.md, MQTT contract)."""

from __future__ import annotations

import re
from datetime import time
from enum import StrEnum
from typing import Annotated, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from devices.protocol.canonical import JSONValue, canonical_json
from devices.protocol.topics import ID_PATTERN


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone such as Australia/Perth") from None
    return value


_HTTP_URL = re.compile(r"^https?://[^\s/?#\\]+[^\s\\]*$")


def _http_url(value: str) -> str:
    if not _HTTP_URL.match(value):
        raise ValueError("must be an absolute http:// or https:// URL")
    return value


def _wall_clock(value: time) -> time:
    if value.tzinfo is not None:
        raise ValueError(
            "a time of day is local wall-clock time in the site's zone: drop the offset"
        )
    return value


# Checked by pydantic-core itself (no Python call per field): ingest validates ~100k ids/s.
Id = Annotated[str, Field(pattern=ID_PATTERN)]
LocalTime = Annotated[time, AfterValidator(_wall_clock)]
SHA256_PATTERN = r"^[0-9a-f]{64}$"
VISITOR_HASH_PATTERN = r"^[0-9a-f]{16,64}$"
SHORT_TEXT_MAX = 200
Sha256 = Annotated[str, Field(pattern=SHA256_PATTERN)]
# Keyed hashes of a visitor's MAC: hex only, so a raw MAC or email cannot pass.
VisitorHash = Annotated[str, Field(pattern=VISITOR_HASH_PATTERN)]
HttpUrl = Annotated[str, AfterValidator(_http_url), Field(max_length=2048)]
TimeZoneName = Annotated[str, AfterValidator(_timezone)]
Colour = Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$")]
ShortText = Annotated[str, Field(max_length=SHORT_TEXT_MAX)]
LongText = Annotated[str, Field(max_length=5000)]
Scalar = str | int | float | bool | None


# Which runtime a device runs; alerts and status reports name it. (A comment, not a
# docstring: a docstring would change the published JSON Schemas.)
class DeviceKind(StrEnum):
    SIGNAGE = "signage"
    PORTAL = "portal"


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Message(Frozen):
    """Base of every top-level message; subclasses set `schema_name`."""

    SCHEMA: ClassVar[str]

    def to_json(self) -> JSONValue:
        return self.model_dump(mode="json", by_alias=True)

    def encode(self) -> bytes:
        return canonical_json(self.to_json())


def schema_field(name: str) -> object:
    return Field(default=name, alias="schema", description="message name and version")
