"""The content cache on disk: the budget and eviction, and what start-up and integrity
checks make of partial, stray and corrupt files (a real HTTP server on 127.0.0.1)."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.cache import CacheFullError, ContentCache, RetryPolicy
from devices.http_fetch import UrllibTransport
from tests.devices.cache_server import TOKEN, RecordingSleep, blob, install

# --- disk budget -------------------------------------------------------------------------------


def test_asset_larger_than_the_budget_is_refused_without_downloading(server, make_cache):
    asset = server.add("huge", blob(5000))
    with pytest.raises(CacheFullError, match=r"5000 bytes.*budget is 1000 bytes") as caught:
        make_cache(budget_bytes=1000).ensure(asset, keep=set())
    assert caught.value.needed_bytes == 5000 and caught.value.budget_bytes == 1000
    assert server.seen("huge") == []


def test_eviction_makes_room_oldest_first_and_spares_the_protected(server, make_cache):
    cache = make_cache(budget_bytes=300_000)
    a = install(cache, server, "a", 100_000, age_s=400)
    b = install(cache, server, "b", 100_000, age_s=300)
    c = install(cache, server, "c", 100_000, age_s=200)

    d = server.add("d", blob(100_000, seed=4))
    cache.ensure(d, keep={a.sha256})  # a is protected though oldest: b goes

    assert [cache.has(x.sha256) for x in (a, b, c, d)] == [True, False, True, True]

    # Without keep, nothing may be evicted: the cache refuses instead.
    e = server.add("e", blob(100_000, seed=5))
    with pytest.raises(CacheFullError):
        cache.ensure(e)

    # Too big even after evicting all that is unprotected: refused, and nothing evicted.
    f = server.add("f", blob(250_000, seed=6))
    with pytest.raises(CacheFullError) as caught:
        cache.ensure(f, keep={a.sha256, d.sha256})
    assert caught.value.protected_bytes == 200_000
    assert [cache.has(x.sha256) for x in (a, c, d)] == [True, True, True]
    assert server.seen("f") == []


def test_evict_deletes_everything_not_kept_and_reports_it(server, make_cache):
    cache = make_cache()
    a = install(cache, server, "a", 10_000, age_s=0)
    b = install(cache, server, "b", 20_000, age_s=0)
    stale = "f" * 64
    (cache.root / "partial" / f"{stale}.part").write_bytes(b"x" * 500)

    freed = cache.evict(keep={a.sha256})

    assert set(freed.removed) == {b.sha256, stale} and freed.freed_bytes == 20_500
    assert cache.has(a.sha256) and not cache.has(b.sha256)
    assert cache.usage_bytes() == 10_000


def test_prepare_fetches_a_manifest_with_batch_progress(server, make_cache):
    cache = make_cache(progress_every_bytes=1)
    assets = [server.add(f"item{n}", blob(100_000 * (n + 1), seed=n)) for n in range(3)]
    cache.ensure(assets[0])
    reports: list[tuple[str, int, int]] = []

    paths = cache.prepare(assets, progress=lambda *report: reports.append(report))

    assert set(paths) == {a.sha256 for a in assets}
    assert {total for _, _, total in reports} == {500_000}
    received = [got for _, got, _ in reports]
    assert received == sorted(set(received)) and received[-1] == 500_000
    assert [sha for sha, _, _ in reports][-1] == assets[2].sha256


def test_prepare_refuses_a_manifest_that_cannot_fit_before_downloading(server, make_cache):
    cache = make_cache(budget_bytes=250_000)
    assets = [server.add(f"item{n}", blob(100_000, seed=n)) for n in range(3)]
    with pytest.raises(CacheFullError) as caught:
        cache.prepare(assets)
    assert caught.value.needed_bytes == 300_000
    assert all(server.seen(f"item{n}") == [] for n in range(3))


# --- start-up and integrity --------------------------------------------------------------------


def test_startup_removes_strays_and_resumes_a_kept_partial(server, make_cache, tmp_path):
    data = blob(500_000)
    asset = server.add("a", data)
    partial = tmp_path / "cache" / "partial"
    partial.mkdir(parents=True)
    (partial / f"{asset.sha256}.part").write_bytes(data[:123_456])
    (partial / "tmpXYZ").write_bytes(b"junk")
    shard = tmp_path / "cache" / "objects" / "ab"
    shard.mkdir(parents=True)
    (shard / "not-a-hash").write_bytes(b"junk")

    cache = make_cache()

    assert sorted(p.name for p in partial.iterdir()) == [f"{asset.sha256}.part"]
    assert list(shard.iterdir()) == []
    assert cache.ensure(asset).read_bytes() == data
    assert [r.range for r in server.seen("a")] == ["bytes=123456-"]


def test_a_complete_partial_left_by_a_kill_is_installed_without_a_request(
    server, make_cache, tmp_path
):
    data = blob(50_000)
    asset = server.add("a", data)
    partial = tmp_path / "cache" / "partial"
    partial.mkdir(parents=True)
    (partial / f"{asset.sha256}.part").write_bytes(data)
    assert make_cache().ensure(asset).read_bytes() == data
    assert server.seen("a") == []


def test_corrupt_partial_from_a_power_cut_is_refetched_from_zero(server, make_cache, tmp_path):
    data = blob(500_000)
    asset = server.add("a", data)
    partial = tmp_path / "cache" / "partial"
    partial.mkdir(parents=True)
    (partial / f"{asset.sha256}.part").write_bytes(bytes(200_000))  # zeros, not the prefix
    assert make_cache().ensure(asset).read_bytes() == data
    assert [r.range for r in server.seen("a")] == ["bytes=200000-", None]


def test_disk_corruption_is_found_by_verify_all_or_by_size(server, make_cache):
    cache = make_cache()
    a = install(cache, server, "a", 10_000, age_s=0)
    b = install(cache, server, "b", 10_000, age_s=0)
    for path, damage in ((cache.path(a.sha256), b"X"), (cache.path(b.sha256), None)):
        assert path is not None
        path.chmod(0o644)
        content = path.read_bytes()
        path.write_bytes(content[:-1] + damage if damage else content[:5000])

    assert cache.verify_all() == sorted([a.sha256, b.sha256])
    assert not cache.has(a.sha256) and not cache.has(b.sha256)

    # Without verify_all, ensure still notices a truncated file and fetches it again.
    cache.ensure(a).chmod(0o644)
    cache.path(a.sha256).write_bytes(b"short")
    assert cache.ensure(a).read_bytes() == server.files["/assets/a"]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cuts=st.lists(st.integers(min_value=0, max_value=99_999), max_size=4))
def test_any_sequence_of_cut_connections_ends_verified(server, tmp_path_factory, cuts):
    data = blob(100_000, seed=len(cuts))
    name = f"cuts-{time.monotonic_ns()}"
    asset = server.add(name, data, cuts=list(cuts))
    cache = ContentCache(
        tmp_path_factory.mktemp("cache"),
        budget_bytes=1 << 20,
        transport=UrllibTransport(TOKEN),
        retry=RetryPolicy(max_attempts=len(cuts) + 1, base_delay_s=0.1, max_delay_s=0.1),
        sleep=RecordingSleep(),
    )
    assert cache.ensure(asset).read_bytes() == data
    offsets, have = [], 0
    for cut in [*cuts, None]:  # each response starts where the last one was cut
        offsets.append(have)
        if cut is None or have + cut >= len(data):
            break
        have += cut
    assert [r.range for r in server.seen(name)] == [f"bytes={o}-" if o else None for o in offsets]
