"""Keyed hashes that stand in for a visitor's MAC address in analytics. Pure: no I/O.

- `client_hash`: HMAC-SHA256 of the normalised MAC under a key derived from the node secret
  and the UTC date, so the same phone links up within one day (splash -> accept -> session
  end) and cannot be followed from one day to the next.
- `visitor_hash`: a separately keyed HMAC whose key changes once per period (default 90
  days, counted in whole periods since 1970-01-01 UTC), for returning-visitor counts. A visit
  on both sides of a period boundary counts as two visitors: the price of a key that
  eventually rotates too.
- `returning_hashes`: a third keyed HMAC, for the node's own record of when a phone last
  accepted the terms (splash frequency, `portal.returning`); never sent anywhere. Its key
  changes every RETURNING_PERIOD_DAYS, longer than the longest `splash_every_days` (365),
  so a phone is looked up under this period's key and the last one's, and found whenever
  its accept is recent enough to count.

No key ever leaves the node; the node secret lives in its config file.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import UTC, date, datetime
from functools import lru_cache

HASH_HEX_CHARS = 32
_MAC = re.compile(r"^[0-9a-f]{12}$")
_EPOCH = date(1970, 1, 1)
RETURNING_PERIOD_DAYS = 366


class MacError(ValueError):
    pass


def normalise_mac(mac: str) -> str:
    """``AA-BB-CC-DD-EE-FF``, ``aabb.ccdd.eeff``, ``aa:bb:..`` all become ``aa:bb:cc:dd:ee:ff``."""
    digits = re.sub(r"[:.\-\s]", "", mac).lower()
    if not _MAC.match(digits):
        raise MacError(f"{mac!r} is not a MAC address")
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


@lru_cache(maxsize=64)  # a few keys a day; the splash asks for them on every request
def _derive(secret: bytes, label: str) -> bytes:
    return hmac.new(secret, label.encode(), hashlib.sha256).digest()


def daily_key(secret: bytes, at: datetime) -> bytes:
    return _derive(secret, f"ds-portal/client/{at.astimezone(UTC).date().isoformat()}")


def period_index(at: datetime, period_days: int) -> int:
    if period_days < 1:
        raise ValueError("period_days must be at least 1")
    return (at.astimezone(UTC).date() - _EPOCH).days // period_days


def visitor_key(secret: bytes, at: datetime, period_days: int) -> bytes:
    return _derive(secret, f"ds-portal/visitor/{period_days}/{period_index(at, period_days)}")


def _keyed(key: bytes, mac: str) -> str:
    digest = hmac.new(key, normalise_mac(mac).encode(), hashlib.sha256).hexdigest()
    return digest[:HASH_HEX_CHARS]


def client_hash(secret: bytes, mac: str, at: datetime) -> str:
    """Today's (UTC) pseudonym for this MAC."""
    return _keyed(daily_key(secret, at), mac)


def visitor_hash(secret: bytes, mac: str, at: datetime, period_days: int = 90) -> str:
    """This period's pseudonym for this MAC, for returning-visitor counts."""
    return _keyed(visitor_key(secret, at, period_days), mac)


def returning_hashes(secret: bytes, mac: str, at: datetime) -> tuple[str, str]:
    """This period's and the previous period's pseudonym for this MAC in the node's
    returning-visitor record: written under the first, looked up under both."""
    index = period_index(at, RETURNING_PERIOD_DAYS)
    normalised = normalise_mac(mac).encode()
    current, previous = (
        hmac.digest(_derive(secret, f"ds-portal/returning/{i}"), normalised, "sha256").hex()[
            :HASH_HEX_CHARS
        ]
        for i in (index, index - 1)
    )
    return current, previous
