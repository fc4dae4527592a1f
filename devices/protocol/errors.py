"""Errors of the wire contract: each names the field at fault and what was wrong."""

from __future__ import annotations


class ProtocolError(ValueError):
    """A message, topic or signature that does not follow the contract.

    `field` is a dotted path into the message (``items.0.duration_s``), or the
    part of the topic, or ``signature``; `reason` says what was wrong with it.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class SignatureError(ProtocolError):
    """The message is unsigned, signed by a key we do not trust, or altered."""

    def __init__(self, reason: str) -> None:
        super().__init__("signature", reason)
