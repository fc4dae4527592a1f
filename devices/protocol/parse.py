"""Parsing, validating, verifying and signing any message of the contract.

Parsing refuses unknown fields, wrong types and values out of range, and the error
names the field.
"""

from __future__ import annotations

import contextlib
from typing import TypeVar

from pydantic import ValidationError

from devices.protocol.alerts import Alert
from devices.protocol.base import Message
from devices.protocol.canonical import JSONValue, canonical_json, loads
from devices.protocol.commands import Command, CommandResult
from devices.protocol.errors import ProtocolError
from devices.protocol.events import EventAck, EventBatch
from devices.protocol.feeds import FeedData
from devices.protocol.manifest import Manifest
from devices.protocol.releases import Release
from devices.protocol.signing import PublicKey, SigningKey, signed_body, verify
from devices.protocol.status import Health, Status

# Every top-level message of the contract (docs/protocol/ holds their JSON Schemas).
MESSAGE_TYPES: tuple[type[Message], ...] = (
    Manifest,
    Alert,
    Command,
    CommandResult,
    Status,
    Health,
    EventBatch,
    EventAck,
    FeedData,
    Release,
)


M = TypeVar("M", bound=Message)


def parse(model: type[M], payload: bytes | str) -> M:
    """Parse one message; anything wrong raises ProtocolError naming the field."""
    return validate(model, loads(payload))


def validate(model: type[M], value: JSONValue) -> M:
    if not isinstance(value, dict):
        raise ProtocolError("$", f"{model.SCHEMA} must be a JSON object")
    schema = value.get("schema")
    if schema != model.SCHEMA:
        raise ProtocolError("schema", f"expected {model.SCHEMA!r}, got {schema!r}")
    try:
        return model.model_validate(value)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or "$"
        raise ProtocolError(field, first["msg"]) from None
    except ProtocolError as error:  # raised by a validator such as validate_id
        raise ProtocolError(error.field, error.reason) from None


def parse_signed(model: type[M], payload: bytes | str, trusted: list[PublicKey]) -> M:
    """Verify the signature over exactly what was received, then parse."""
    raw = payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)
    body_bytes = signed_body(raw, trusted)
    if body_bytes is not None:
        # The usual case, in about half the time: the bytes are the CMS's canonical
        # JSON, checked as they are and parsed once by pydantic-core.
        with contextlib.suppress(ValidationError, ProtocolError):
            return model.model_validate_json(body_bytes)
        # Signed but not valid: the general path below names the field at fault.
    body = verify(loads(raw), trusted)
    return validate(model, body)


def sign(message: Message, key: SigningKey) -> bytes:
    return canonical_json(key.sign(message.to_json()))
