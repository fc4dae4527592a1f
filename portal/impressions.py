"""Who saw the splash and its promotions: the visitor's pseudonyms for the day, and one
impression per visitor per half hour however often the page is reloaded."""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from datetime import UTC, date, datetime

from devices.protocol import PromoShownData, SplashShownData
from portal.fas import FasClient
from portal.privacy import client_hash, visitor_hash
from portal.sources import Recorder
from portal.view import SplashView

DEDUPE_S = 1800.0


class SeenRecently:
    """Per process: has this key been counted in the last `ttl_s`? (impression dedupe:
    a visitor reloading the splash is one splash shown, not ten)."""

    def __init__(self, ttl_s: float, max_entries: int = 50_000) -> None:
        self._ttl_s = ttl_s
        self._max = max_entries
        self._seen: OrderedDict[tuple[str, ...], float] = OrderedDict()
        self._lock = threading.Lock()

    def first(self, key: tuple[str, ...], now: float) -> bool:
        with self._lock:
            at = self._seen.get(key)
            if at is not None and now - at < self._ttl_s:
                return False
            self._seen[key] = now
            self._seen.move_to_end(key)
            while len(self._seen) > self._max:
                self._seen.popitem(last=False)
            return True


class Pseudonyms:
    """The (client, visitor) hashes of a client's MAC, as analytics may hold them."""

    def __init__(self, secret: bytes, visitor_period_days: int) -> None:
        self._secret = secret
        self._period_days = visitor_period_days
        self._on = functools.lru_cache(maxsize=4096)(self._hashes_on)

    def _hashes_on(self, mac: str, day: date) -> tuple[str, str]:
        # Both pseudonyms depend only on the MAC and the UTC date (privacy.py), and the
        # splash and its impressions ask for them on every request.
        at = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return (
            client_hash(self._secret, mac, at),
            visitor_hash(self._secret, mac, at, self._period_days),
        )

    def of(self, client: FasClient, now: datetime) -> tuple[str, str]:
        return self._on(client.client_mac, now.astimezone(UTC).date())


class Impressions:
    def __init__(self, recorder: Recorder, pseudonyms: Pseudonyms) -> None:
        self._recorder = recorder
        self._pseudonyms = pseudonyms
        self._seen = SeenRecently(DEDUPE_S)

    def record(
        self, client: FasClient, view: SplashView, language: str, now: datetime, tick: float
    ) -> None:
        """The splash in `language` and its promotions shown to `client`, once per
        DEDUPE_S of `tick` (monotonic seconds)."""
        client_h, visitor_h = self._pseudonyms.of(client, now)
        if self._seen.first(("splash", client_h, language), tick):
            self._recorder.record(
                SplashShownData(client_hash=client_h, visitor_hash=visitor_h, language=language)
            )
        for promo in view.promos:
            if self._seen.first(("promo", client_h, promo.item_id), tick):
                self._recorder.record(
                    PromoShownData(
                        client_hash=client_h, item_id=promo.item_id, campaign_id=promo.campaign_id
                    )
                )
