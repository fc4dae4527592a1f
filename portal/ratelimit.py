"""Per-client token buckets, in process (so per web server worker: a client's real budget is
`workers` times the configured one, which still stops a burst from one phone)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self, rate_per_s: float, burst: int, max_clients: int = 10_000) -> None:
        self._rate = rate_per_s
        self._burst = float(burst)
        self._max_clients = max_clients
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, client: str, now: float) -> bool:
        """Take one token from `client`'s bucket at monotonic time `now`."""
        with self._lock:
            bucket = self._buckets.get(client)
            if bucket is None:
                bucket = _Bucket(self._burst, now)
                self._buckets[client] = bucket
                if len(self._buckets) > self._max_clients:
                    self._buckets.popitem(last=False)  # forget the least recently seen
            else:
                self._buckets.move_to_end(client)
                elapsed = max(0.0, now - bucket.updated)
                bucket.tokens = min(self._burst, bucket.tokens + elapsed * self._rate)
                bucket.updated = now
            if bucket.tokens < 1:
                return False
            bucket.tokens -= 1
            return True
