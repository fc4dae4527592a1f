"""Ed25519 signatures over canonical JSON, for manifests, alerts and commands.

A signed message is the message object plus one field::

    "signature": {"alg": "ed25519", "key_id": "<16 hex>", "value": "<base64>"}

The signature covers the canonical JSON of the object without that field. Devices
trust one or more CMS public keys (more than one while a key is being rotated) and
ignore anything unsigned, altered, or signed by any other key, so a compromised
broker or device cannot put content on a screen.

The CMS sends exactly the canonical bytes, so a device can usually check the signature
over the received bytes with the signature member cut out (`signed_body`) and parse
those same bytes, without re-serialising. Anything else (JSON reformatted on the way)
takes the general path: parse, canonicalise, verify (`verify`).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import nacl.exceptions
import nacl.signing
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from devices.protocol.canonical import JSONValue, canonical_json
from devices.protocol.errors import ProtocolError, SignatureError

SIGNATURE_FIELD = "signature"
_ALG = "ed25519"
_TEXT_PREFIX = "ed25519:"


@dataclass(frozen=True)
class PublicKey:
    """A CMS public key as devices hold it; written ``ed25519:<base64 of 32 bytes>``."""

    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != 32:
            raise ProtocolError("public_key", "an Ed25519 public key is 32 bytes")

    @classmethod
    def from_text(cls, text: str) -> PublicKey:
        text = text.strip()
        if not text.startswith(_TEXT_PREFIX):
            raise ProtocolError("public_key", f"must start with {_TEXT_PREFIX!r}")
        try:
            raw = base64.b64decode(text[len(_TEXT_PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            raise ProtocolError("public_key", "is not valid base64") from None
        return cls(raw)

    def to_text(self) -> str:
        return _TEXT_PREFIX + base64.b64encode(self.raw).decode("ascii")

    @functools.cached_property
    def key_id(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()[:16]

    # libsodium verifies in about half the time OpenSSL takes here (bench/fanout.py),
    # and every device verifies every manifest; the CMS signs with `cryptography`.
    @functools.cached_property
    def _key(self) -> nacl.signing.VerifyKey:
        return nacl.signing.VerifyKey(self.raw)

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            self._key.verify(message, signature)
        except (nacl.exceptions.BadSignatureError, ValueError):
            return False
        return True


class SigningKey:
    """The CMS's private key. Kept in the CMS instance folder as PKCS#8 PEM."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        self.public_key = PublicKey(
            private_key.public_key().public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            )
        )

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, pem: bytes) -> SigningKey:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ProtocolError("signing_key", "the PEM file does not hold an Ed25519 key")
        return cls(key)

    def to_pem(self) -> bytes:
        return self._private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def sign(self, message: Mapping[str, JSONValue]) -> dict[str, JSONValue]:
        """The message with its `signature` field added (any old one replaced)."""
        body = {k: v for k, v in message.items() if k != SIGNATURE_FIELD}
        value = self._private_key.sign(canonical_json(body))
        body[SIGNATURE_FIELD] = {
            "alg": _ALG,
            "key_id": self.public_key.key_id,
            "value": base64.b64encode(value).decode("ascii"),
        }
        return body


def verify(message: JSONValue, trusted: Iterable[PublicKey]) -> dict[str, JSONValue]:
    """The message without its signature, if a trusted key signed exactly this content.

    Raises SignatureError saying why not: missing, malformed, unknown key, or altered.
    """
    if not isinstance(message, dict):
        raise ProtocolError("$", "a signed message must be a JSON object")
    signature = message.get(SIGNATURE_FIELD)
    if signature is None:
        raise SignatureError("missing: the message is unsigned")
    if not isinstance(signature, dict) or signature.get("alg") != _ALG:
        raise SignatureError(f"must be an object with alg {_ALG!r}")
    key_id, value = signature.get("key_id"), signature.get("value")
    if not isinstance(key_id, str) or not isinstance(value, str):
        raise SignatureError("key_id and value must be strings")
    keys = [key for key in trusted if key.key_id == key_id]
    if not keys:
        raise SignatureError(f"signed by key {key_id!r}, which this device does not trust")
    try:
        raw_signature = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("value is not valid base64") from None
    body = {k: v for k, v in message.items() if k != SIGNATURE_FIELD}
    canonical = canonical_json(body)
    if not any(key.verify(canonical, raw_signature) for key in keys):
        raise SignatureError("does not match the content: the message was altered")
    return body


# The signature member as canonical JSON writes it: keys sorted, no spaces, 64-byte value.
# Quotes inside JSON strings are escaped, so this text can only be an object member.
_SIGNATURE_KEY = b'"signature":{"alg":"ed25519","key_id":"'
_SIGNATURE_MEMBER = re.compile(
    rb'(?P<lead>[{,])"signature":\{"alg":"ed25519","key_id":"(?P<key_id>[0-9a-f]{16})",'
    rb'"value":"(?P<value>[A-Za-z0-9+/]{86}==)"\}(?P<trail>[,}])'
)


def signed_body(payload: bytes, trusted: Iterable[PublicKey]) -> bytes | None:
    """The received bytes without the signature member, if a trusted key signed exactly them.

    None means "not shown here", never "forged": the caller then takes the general path
    (`verify`), which gives the reason. What this returns is what the CMS signed, so
    parsing it yields exactly the signed content; nothing outside it is used.
    """
    # find() is a memchr scan; a regex search would try every "{" and "," in the payload.
    start = payload.find(_SIGNATURE_KEY)
    match = _SIGNATURE_MEMBER.match(payload, start - 1) if start > 0 else None
    if match is None:
        return None
    lead, trail = match["lead"], match["trail"]
    joint = lead if trail == b"," else trail if lead == b"," else b"{}"
    body = payload[: match.start()] + joint + payload[match.end() :]
    key_id = match["key_id"].decode("ascii")
    signature = base64.b64decode(match["value"])
    for key in trusted:
        if key.key_id == key_id and key.verify(body, signature):
            return body
    return None
