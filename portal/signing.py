"""Signed tokens carried in form fields and links (the portal uses no cookies).

A token is ``base64url(json) "." base64url(hmac_sha256(secret, purpose "." body))``. The
purpose keeps a tracker signature from passing as form state and vice versa. The issue
time inside the body comes from the injected clock, so tests choose instants.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import datetime


class StateError(ValueError):
    """The token is forged, damaged, expired or from another purpose."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Signer:
    secret: bytes
    _keyed: hmac.HMAC = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # The derived key and HMAC's padded inner/outer state are computed once; each
        # token copies that state (the splash signs a form on every request, #6).
        key = hmac.new(self.secret, b"ds-portal/sign", hashlib.sha256).digest()
        object.__setattr__(self, "_keyed", hmac.new(key, digestmod=hashlib.sha256))

    def _mac(self, purpose: str, body: str) -> str:
        mac = self._keyed.copy()
        mac.update(f"{purpose}.{body}".encode())
        return _b64(mac.digest())

    def sign(self, purpose: str, payload: dict[str, str | int]) -> str:
        body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
        return f"{body}.{self._mac(purpose, body)}"

    def verify(self, purpose: str, token: str, *, now: datetime, max_age_s: int) -> dict[str, str]:
        """The payload of a genuine, unexpired token; StateError otherwise."""
        if not isinstance(token, str) or len(token) > 4096 or token.count(".") != 1:
            raise StateError("malformed")
        body, mac = token.split(".")
        if not hmac.compare_digest(mac, self._mac(purpose, body)):
            raise StateError("bad signature")
        try:
            payload = json.loads(_unb64(body))
        except (ValueError, UnicodeDecodeError):
            raise StateError("malformed") from None
        if not isinstance(payload, dict):
            raise StateError("malformed")
        issued = payload.get("t")
        if not isinstance(issued, int) or not 0 <= now.timestamp() - issued <= max_age_s:
            raise StateError("expired")
        return {str(k): str(v) for k, v in payload.items()}

    def tag(self, purpose: str, *parts: str) -> str:
        """A short signature over `parts` (tracker links)."""
        return self._mac(purpose, "\x1f".join(parts))[:22]

    def check_tag(self, purpose: str, tag: str, *parts: str) -> bool:
        return hmac.compare_digest(tag, self.tag(purpose, *parts))
