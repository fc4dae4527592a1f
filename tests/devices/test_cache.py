"""The content cache downloading from a real HTTP server on 127.0.0.1 (no mocks of urllib):
tokens, verification, retries, resumption, redirects."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import pytest

from devices.cache import DownloadError, IntegrityError, InvalidAssetError
from tests.devices.cache_server import (
    RETRY,
    TOKEN,
    Asset,
    AssetServer,
    assert_every_installed_file_matches_its_name,
    blob,
)

# --- downloads ---------------------------------------------------------------------------------


def test_downloads_verifies_and_installs_under_its_hash_with_the_token(server, make_cache):
    data = blob(300_000)
    asset = server.add("poster.png", data)
    cache = make_cache()

    path = cache.ensure(asset)

    assert path.read_bytes() == data
    assert path.name == asset.sha256
    assert cache.path(asset.sha256) == path and cache.has(asset.sha256)
    assert cache.usage_bytes() == len(data)
    assert path.stat().st_mode & 0o777 == 0o444  # installed read-only
    assert list((cache.root / "partial").iterdir()) == []
    assert [r.authorization for r in server.seen("poster.png")] == [f"Bearer {TOKEN}"]
    assert cache.ensure(asset) == path and len(server.seen("poster.png")) == 1


def test_wrong_token_is_refused_at_once(server, make_cache, sleep):
    asset = server.add("a", blob(1000))
    with pytest.raises(DownloadError) as caught:
        make_cache(token="stolen").ensure(asset)
    assert caught.value.status == 401 and caught.value.attempts == 1
    assert sleep.delays_s == []


def test_wrong_bytes_are_never_installed(server, make_cache):
    asset = server.add("a", blob(200_000), corrupt=True)
    cache = make_cache()
    with pytest.raises(IntegrityError) as caught:
        cache.ensure(asset)
    assert caught.value.field == "sha256"
    assert not cache.has(asset.sha256)
    assert list((cache.root / "partial").iterdir()) == []
    assert assert_every_installed_file_matches_its_name(cache.root) == []


@pytest.mark.parametrize(
    ("served", "listed", "behaviour"),
    [
        pytest.param(150_000, 200_000, {}, id="content-length-short-of-the-reference"),
        pytest.param(250_000, 100_000, {}, id="content-length-beyond-the-reference"),
        pytest.param(250_000, 100_000, {"no_length": True}, id="body-runs-past-the-size"),
    ],
)
def test_size_mismatch_is_never_installed(server, make_cache, served, listed, behaviour):
    served_asset = server.add("a", blob(served), **behaviour)
    # The reference names the right hash but the wrong size.
    asset = Asset(served_asset.sha256, served_asset.url, listed)
    cache = make_cache()
    with pytest.raises(IntegrityError) as caught:
        cache.ensure(asset)
    assert caught.value.field == "size_bytes"
    assert not cache.has(asset.sha256)
    assert list((cache.root / "partial").iterdir()) == []


def test_missing_asset_is_not_retried(server, make_cache, sleep):
    asset = Asset("0" * 64, server.base_url + "/assets/nothing-here", 10)
    with pytest.raises(DownloadError) as caught:
        make_cache().ensure(asset)
    assert caught.value.status == 404
    assert len(server.seen("nothing-here")) == 1 and sleep.delays_s == []


def test_503_is_retried_with_capped_jittered_backoff(server, make_cache, sleep):
    data = blob(50_000)
    asset = server.add("a", data, fail_503=4)
    assert make_cache().ensure(asset).read_bytes() == data
    assert len(server.seen("a")) == 5
    assert len(sleep.delays_s) == 4
    for retry_index, delay_s in enumerate(sleep.delays_s):
        nominal = min(RETRY.max_delay_s, RETRY.base_delay_s * 2**retry_index)
        assert nominal / 2 <= delay_s <= nominal <= RETRY.max_delay_s


def test_persistent_503_gives_up_after_the_attempt_limit(server, make_cache, sleep):
    asset = server.add("a", blob(1000), status=503)
    with pytest.raises(DownloadError) as caught:
        make_cache().ensure(asset)
    assert caught.value.status == 503 and caught.value.attempts == RETRY.max_attempts
    assert len(server.seen("a")) == RETRY.max_attempts
    assert len(sleep.delays_s) == RETRY.max_attempts - 1
    assert max(sleep.delays_s) <= RETRY.max_delay_s


def test_retry_after_is_honoured_up_to_the_cap(server, make_cache, sleep):
    asset = server.add("a", blob(1000), fail_503=2, retry_after="3600")
    make_cache().ensure(asset)
    assert sleep.delays_s == [RETRY.max_delay_s, RETRY.max_delay_s]


def test_cut_connection_resumes_with_a_range_request(server, make_cache, sleep):
    data = blob(1_000_000)
    asset = server.add("a", data, cuts=[300_000])
    path = make_cache().ensure(asset)
    assert path.read_bytes() == data
    assert [r.range for r in server.seen("a")] == [None, "bytes=300000-"]
    assert len(sleep.delays_s) == 1


def test_server_ignoring_range_restarts_from_zero(server, make_cache):
    data = blob(1_000_000)
    asset = server.add("a", data, cuts=[300_000], ignore_range=True)
    reports: list[tuple[int, int]] = []
    cache = make_cache(progress_every_bytes=1)
    path = cache.ensure(asset, progress=lambda _sha, got, total: reports.append((got, total)))
    assert path.read_bytes() == data
    assert [r.range for r in server.seen("a")] == [None, "bytes=300000-"]
    received = [got for got, _ in reports]
    assert received == sorted(set(received)) and received[-1] == len(data)


def test_progress_is_throttled_and_monotonic(server, make_cache):
    data = blob(4 << 20)
    asset = server.add("a", data)
    reports: list[tuple[str, int, int]] = []
    cache = make_cache(progress_every_bytes=256 << 10)
    cache.ensure(asset, progress=lambda *report: reports.append(report))
    received = [got for _, got, _ in reports]
    assert received == sorted(set(received))
    assert reports[-1] == (asset.sha256, len(data), len(data))
    assert {total for _, _, total in reports} == {len(data)}
    assert len(reports) <= (4 << 20) // (256 << 10) + 1 < (4 << 20) // (64 << 10)
    assert all(b - a >= 256 << 10 for a, b in itertools.pairwise(received[:-1]))


def test_concurrent_ensures_of_one_asset_download_it_once(server, make_cache):
    data = blob(2 << 20)
    asset = server.add("a", data, chunk_delay_s=0.002)
    cache = make_cache()
    paths: list[Path] = []
    threads = [threading.Thread(target=lambda: paths.append(cache.ensure(asset))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(paths) == 4 and len(set(paths)) == 1
    assert len(server.seen("a")) == 1


@pytest.mark.parametrize(
    "location",
    ["file:///etc/passwd", "ftp://127.0.0.1/asset", "data:,hello"],
)
def test_redirect_to_another_scheme_is_refused(server, make_cache, sleep, location):
    asset = Asset("1" * 64, server.add("a", b"", redirect_to=location).url, 5)
    with pytest.raises(DownloadError, match="refusing redirect"):
        make_cache().ensure(asset)
    assert len(server.seen("a")) == 1 and sleep.delays_s == []


def test_token_follows_redirects_only_within_its_origin(server, make_cache):
    data = blob(10_000)
    other = AssetServer()
    try:
        same = server.add("same", b"", redirect_to="/assets/real")
        real = server.add("real", data)
        away = server.add("away", b"", redirect_to=other.add("x", data, require_token=False).url)
        cache = make_cache()
        assert cache.ensure(Asset(real.sha256, same.url, len(data))).read_bytes() == data
        assert server.seen("real")[0].authorization == f"Bearer {TOKEN}"
        cache.evict(keep=set())
        assert cache.ensure(Asset(real.sha256, away.url, len(data))).read_bytes() == data
        assert other.seen("x")[0].authorization is None
    finally:
        other.close()


def test_malformed_reference_is_rejected_before_touching_disk(make_cache):
    cache = make_cache()
    with pytest.raises(InvalidAssetError, match="sha256"):
        cache.ensure(Asset("../../etc/passwd", "http://127.0.0.1/x", 1))
    with pytest.raises(InvalidAssetError, match="sha256"):
        cache.path("ABC")
