"""Visitor pseudonyms: no raw MAC, daily rotation, a longer-lived visitor hash."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from portal.privacy import MacError, client_hash, normalise_mac, visitor_hash

SECRET = b"node-secret-for-tests"
MAC = "92:74:F8:A1:D7:D3"
PERTH = timezone(timedelta(hours=8))


def test_mac_spellings_hash_alike():
    at = datetime(2026, 11, 23, 9, tzinfo=UTC)
    spellings = ["92:74:f8:a1:d7:d3", "92-74-F8-A1-D7-D3", "9274.f8a1.d7d3"]
    assert len({client_hash(SECRET, mac, at) for mac in spellings}) == 1
    assert normalise_mac("9274.f8a1.d7d3") == "92:74:f8:a1:d7:d3"


def test_hash_reveals_nothing_of_the_mac():
    digest = client_hash(SECRET, MAC, datetime(2026, 11, 23, tzinfo=UTC))
    assert len(digest) == 32 and all(c in "0123456789abcdef" for c in digest)
    assert "9274" not in digest and "d7d3" not in digest


def test_client_hash_is_stable_within_a_utc_day_and_changes_at_utc_midnight():
    before = datetime(2026, 11, 23, 23, 59, 59, tzinfo=UTC)
    same_day = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
    after = before + timedelta(seconds=2)
    assert client_hash(SECRET, MAC, before) == client_hash(SECRET, MAC, same_day)
    assert client_hash(SECRET, MAC, before) != client_hash(SECRET, MAC, after)


def test_rotation_follows_utc_not_the_sites_wall_clock():
    # 07:59 and 08:01 in Perth straddle UTC midnight.
    a = datetime(2026, 11, 24, 7, 59, tzinfo=PERTH)
    b = datetime(2026, 11, 24, 8, 1, tzinfo=PERTH)
    assert client_hash(SECRET, MAC, a) != client_hash(SECRET, MAC, b)


def test_visitor_hash_survives_daily_rotation_within_the_period():
    first = datetime(2026, 10, 1, tzinfo=UTC)
    later = first + timedelta(days=30)
    assert visitor_hash(SECRET, MAC, first) == visitor_hash(SECRET, MAC, later)
    assert client_hash(SECRET, MAC, first) != client_hash(SECRET, MAC, later)
    assert visitor_hash(SECRET, MAC, first) != client_hash(SECRET, MAC, first)


def test_visitor_hash_rotates_after_its_period():
    at = datetime(2026, 10, 1, tzinfo=UTC)
    assert visitor_hash(SECRET, MAC, at, 7) != visitor_hash(SECRET, MAC, at + timedelta(days=8), 7)


def test_other_nodes_secret_gives_other_hashes():
    at = datetime(2026, 10, 1, tzinfo=UTC)
    assert client_hash(SECRET, MAC, at) != client_hash(b"another", MAC, at)


@pytest.mark.parametrize("bad", ["", "92:74:f8", "zz:74:f8:a1:d7:d3", "alice@example.org"])
def test_non_macs_are_refused(bad):
    with pytest.raises(MacError):
        normalise_mac(bad)
