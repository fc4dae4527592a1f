"""Splash frequency (issue 16): who skips the terms, on an injected clock, and what the
node keeps for it (a keyed hash, a time and a terms version; pruned and bounded)."""

from __future__ import annotations

import sqlite3
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from portal.privacy import RETURNING_PERIOD_DAYS, period_index, returning_hashes
from portal.returning import (
    PRUNE_S,
    LastAccept,
    MemoryAcceptRecord,
    ReturningVisitors,
    SqliteAcceptRecord,
    lets_through,
)

SECRET = b"0123456789abcdef0123456789abcdef-test"
MAC = "02:00:00:00:00:2a"
PERTH = ZoneInfo("Australia/Perth")
AT = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
V = "2026-11"


def passes(accepted_at: datetime, now: datetime, every_days: int | None, version: str = V) -> bool:
    last = LastAccept(accepted_at, V)
    return lets_through(last, now=now, every_days=every_days, terms_version=version)


@pytest.mark.parametrize(
    ("age", "every_days", "through"),
    [
        (timedelta(days=7) - timedelta(seconds=1), 7, True),  # just inside
        (timedelta(days=7), 7, False),  # N days to the second: the terms again
        (timedelta(days=7, seconds=1), 7, False),  # just outside
        (timedelta(0), 1, True),
        (timedelta(days=364, hours=23), 365, True),
        (timedelta(minutes=5), None, False),  # no N: the terms at every visit
        (-timedelta(minutes=5), 7, False),  # recorded "in the future": the clock was wrong
    ],
)
def test_an_accept_counts_for_n_days_of_elapsed_time(age, every_days, through):
    assert passes(AT, AT + age, every_days) is through


def test_midnight_changes_nothing_neither_the_sites_nor_utcs():
    late = datetime(2026, 11, 24, 23, 50, tzinfo=PERTH)  # Tuesday 23:50 in Perth
    assert passes(late, late + timedelta(minutes=20), 1)  # Wednesday 00:10
    assert passes(late, late + timedelta(hours=23, minutes=59), 1)
    assert not passes(late, late + timedelta(days=1), 1)
    utc_late = datetime(2026, 11, 24, 23, 59, tzinfo=UTC)  # the daily client hash rotates
    assert passes(utc_late, utc_late + timedelta(minutes=2), 1)


def test_new_terms_are_shown_to_everyone_once():
    assert not passes(AT, AT + timedelta(hours=1), 7, version="2027-01")
    assert not lets_through(None, now=AT, every_days=7, terms_version=V)


def visitors(record=None, keep: int = 1000) -> tuple[ReturningVisitors, MemoryAcceptRecord]:
    record = record if record is not None else MemoryAcceptRecord()
    return ReturningVisitors(SECRET, record, keep=keep), record


def test_an_accept_lets_the_phone_through_for_the_policys_n_days_and_no_longer():
    returning, _ = visitors()
    assert not returning.let_through(MAC, AT, 7, V)  # never accepted
    returning.accepted(MAC, AT, 7, V)
    assert returning.let_through(MAC, AT + timedelta(days=6, hours=23), 7, V)
    assert returning.let_through("02-00-00-00-00-2A", AT + timedelta(days=1), 7, V)
    assert not returning.let_through("02:00:00:00:00:2b", AT + timedelta(days=1), 7, V)
    assert not returning.let_through(MAC, AT + timedelta(days=7), 7, V)


def test_being_let_through_does_not_renew_the_accept():
    returning, _ = visitors()
    returning.accepted(MAC, AT, 3, V)
    for day in (1, 2):  # back every day, let through each time
        assert returning.let_through(MAC, AT + timedelta(days=day), 3, V)
    assert not returning.let_through(MAC, AT + timedelta(days=3), 3, V)  # reads them again


def test_a_policy_change_applies_at_once():
    returning, record = visitors()
    returning.accepted(MAC, AT, 7, V)
    five_days = AT + timedelta(days=5)
    assert returning.let_through(MAC, five_days, 7, V)
    assert not returning.let_through(MAC, five_days, 3, V)  # lowered to 3: not any more
    assert returning.let_through(MAC, five_days, 30, V)  # raised: the old accept counts
    assert not returning.let_through(MAC, five_days, None, V)  # back to every visit
    assert len(record) == 1  # ... and the next prune forgets everything
    assert not returning.let_through(MAC, five_days + timedelta(seconds=PRUNE_S), None, V)
    assert len(record) == 0


def test_without_n_nothing_is_kept():
    returning, record = visitors()
    returning.accepted(MAC, AT, None, V)
    assert len(record) == 0
    assert not returning.let_through(MAC, AT + timedelta(minutes=1), 7, V)  # N set later


def phone(n: int) -> str:
    return f"02:00:00:00:01:{n:02x}"


def test_the_record_is_pruned_past_n_days_and_bounded_oldest_first():
    record = MemoryAcceptRecord()
    for n in range(5):  # five phones, one a day
        at = AT + timedelta(days=n)
        record.remember(returning_hashes(SECRET, phone(n), at)[0], at, V)
    returning, _ = visitors(record, keep=3)
    later = AT + timedelta(days=5)
    kept = [n for n in range(5) if returning.let_through(phone(n), later, 30, V)]
    assert kept == [2, 3, 4] and len(record) == 3  # the first look-up pruned the oldest
    returning.let_through(MAC, AT + timedelta(days=33, seconds=PRUNE_S), 30, V)
    assert len(record) == 1  # only the accept of day 4 is less than 30 days old


def test_a_phone_is_recognised_across_the_keys_rotation():
    boundary_days = (period_index(AT, RETURNING_PERIOD_DAYS) + 1) * RETURNING_PERIOD_DAYS
    boundary = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=boundary_days)
    before, after = boundary - timedelta(hours=1), boundary + timedelta(hours=1)
    assert returning_hashes(SECRET, MAC, after)[1] == returning_hashes(SECRET, MAC, before)[0]
    returning, _ = visitors()
    returning.accepted(MAC, before, 365, V)
    assert returning.let_through(MAC, after, 365, V)


def test_the_sqlite_record_is_shared_private_and_holds_no_mac(tmp_path: Path):
    path = tmp_path / "portal-returning.sqlite3"
    worker_a = ReturningVisitors(SECRET, SqliteAcceptRecord(path))
    worker_b = ReturningVisitors(SECRET, SqliteAcceptRecord(path))
    worker_a.accepted(MAC, AT, 7, V)
    assert worker_b.let_through(MAC, AT + timedelta(days=6), 7, V)
    worker_a.accepted(MAC, AT + timedelta(days=6), 7, "2027-01")  # new terms, accepted
    assert worker_b.let_through(MAC, AT + timedelta(days=12), 7, "2027-01")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT * FROM last_accept").fetchall()
    changed = AT + timedelta(days=6)
    assert rows == [(returning_hashes(SECRET, MAC, AT)[0], changed.timestamp(), "2027-01")]
    stored = b"".join(f.read_bytes() for f in tmp_path.iterdir())  # with the -wal file
    for spelling in (MAC, MAC.replace(":", ""), MAC.replace(":", "-"), MAC.upper()):
        assert spelling.encode() not in stored


def test_the_sqlite_record_prunes_like_the_memory_one(tmp_path: Path):
    record = SqliteAcceptRecord(tmp_path / "r.sqlite3")
    for n in range(5):
        record.remember(f"h{n}", AT + timedelta(days=n), V)
    record.remember("future", AT + timedelta(days=9), V)
    assert record.prune(AT + timedelta(days=1), AT + timedelta(days=5), keep=2) == 4
    assert [record.last(f"h{n}", "-") is not None for n in range(5)] == [False] * 3 + [True] * 2
    assert record.last("h3", "h4") == LastAccept(AT + timedelta(days=4), V)
    assert record.last("nope", "h3") == LastAccept(AT + timedelta(days=3), V)
    assert record.prune(None, AT, keep=2) == 2
