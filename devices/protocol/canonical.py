"""Canonical JSON: the exact bytes a signature covers.

Keys sorted, no insignificant whitespace, UTF-8 (not ASCII-escaped), integers as
integers. Floats are written with Python's shortest round-trip repr; NaN and
infinities are refused because JSON has no spelling for them. Signer and verifier
both canonicalise the parsed JSON object, so the bytes on the wire may be
formatted any way as long as they parse to the same object.
"""

from __future__ import annotations

import json
from typing import Any

from devices.protocol.errors import ProtocolError

JSONValue = Any  # a value json.loads returns: dict, list, str, int, float, bool or None


def canonical_json(value: JSONValue) -> bytes:
    try:
        text = json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except ValueError as error:
        raise ProtocolError("$", f"cannot be written as canonical JSON: {error}") from None
    except TypeError as error:
        raise ProtocolError("$", f"not a JSON value: {error}") from None
    return text.encode("utf-8")


def loads(payload: bytes | str) -> JSONValue:
    """Parse JSON: UTF-8 only, no NaN/Infinity.

    A duplicate key keeps its last value, as in most parsers. That is safe here because
    a signature is checked over the canonical form of the parsed object and the same
    parsed object is what gets used, so no second parser can read it differently; and
    refusing duplicates needs a Python hook per object, which costs more than the rest
    of verification (bench/fanout.py).
    """
    if isinstance(payload, bytes | bytearray):
        try:
            payload = bytes(payload).decode("utf-8")
        except UnicodeDecodeError as error:
            raise ProtocolError("$", f"not UTF-8: {error.reason} at byte {error.start}") from None
    try:
        return json.loads(payload, parse_constant=_refuse_constant)
    except ProtocolError:
        raise
    except (ValueError, RecursionError) as error:
        raise ProtocolError("$", f"not valid JSON: {error}") from None


def _refuse_constant(name: str) -> None:
    raise ProtocolError("$", f"{name} is not allowed in JSON")
