"""The content cache against a real HTTP server on 127.0.0.1 (no mocks of urllib)."""

from __future__ import annotations

import hashlib
import itertools
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.cache import (
    CacheFullError,
    ContentCache,
    DownloadError,
    IntegrityError,
    InvalidAssetError,
    RetryPolicy,
)
from devices.http_fetch import UrllibTransport

TOKEN = "device-token-123"
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Asset:
    """Stands in for devices.protocol.AssetRef: frozen, read-only fields."""

    sha256: str
    url: str
    size_bytes: int
    content_type: str = "application/octet-stream"


@dataclass
class Behaviour:
    status: int | None = None  # answer this status instead of the file
    fail_503: int = 0  # answer 503 this many times first
    retry_after: str | None = None
    cuts: list[int] = field(default_factory=list)  # close the Nth response after cuts[N] bytes
    corrupt: bool = False
    ignore_range: bool = False
    no_length: bool = False  # omit Content-Length (close-delimited body)
    redirect_to: str | None = None
    require_token: bool = True
    chunk_delay_s: float = 0.0  # pace the body so a killer can land mid-download


@dataclass(frozen=True)
class Seen:
    path: str
    range: str | None
    authorization: str | None


def corrupted(data: bytes) -> bytes:
    """Flip a byte in every MiB and the last one, so any resumed tail is wrong too."""
    out = bytearray(data)
    for index in [*range(0, len(out), 1 << 20), len(out) - 1]:
        out[index] ^= 0xFF
    return bytes(out)


class AssetServer:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.behaviour: dict[str, Behaviour] = {}
        self.requests: list[Seen] = []
        self.lock = threading.Lock()
        self.body_started = threading.Event()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.app = self  # type: ignore[attr-defined]
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def add(self, name: str, data: bytes, **behaviour: object) -> Asset:
        path = f"/assets/{name}"
        with self.lock:
            self.files[path] = data
            self.behaviour[path] = Behaviour(**behaviour)  # type: ignore[arg-type]
        return Asset(hashlib.sha256(data).hexdigest(), self.base_url + path, len(data))

    def seen(self, name: str) -> list[Seen]:
        with self.lock:
            return [r for r in self.requests if r.path == f"/assets/{name}"]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        app: AssetServer = self.server.app  # type: ignore[attr-defined]
        with app.lock:
            app.requests.append(
                Seen(self.path, self.headers.get("Range"), self.headers.get("Authorization"))
            )
            behaviour = app.behaviour.get(self.path, Behaviour())
            data = app.files.get(self.path)
            fail = behaviour.fail_503 > 0
            behaviour.fail_503 -= fail
            cut = behaviour.cuts.pop(0) if behaviour.cuts else None
        if behaviour.redirect_to is not None:
            self.send_response(302)
            self.send_header("Location", behaviour.redirect_to)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if behaviour.require_token and self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._status(401)
        if data is None:
            return self._status(404)
        if behaviour.status is not None:
            return self._status(behaviour.status)
        if fail:
            return self._status(503, behaviour.retry_after)
        body = corrupted(data) if behaviour.corrupt else data
        requested = self.headers.get("Range")
        if requested and not behaviour.ignore_range:
            start = int(requested.removeprefix("bytes=").rstrip("-"))
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            body = body[start:]
        else:
            self.send_response(200)
        if not behaviour.no_length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        app.body_started.set()
        if cut is not None:
            body = body[:cut]
        try:
            for offset in range(0, len(body), 64 * 1024):
                self.wfile.write(body[offset : offset + 64 * 1024])
                if behaviour.chunk_delay_s:
                    time.sleep(behaviour.chunk_delay_s)  # pacing the server, not synchronising
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client was killed: that is the point of some tests

    def _status(self, status: int, retry_after: str | None = None) -> None:
        self.send_response(status)
        if retry_after is not None:
            self.send_header("Retry-After", retry_after)
        self.send_header("Content-Length", "0")
        self.end_headers()


class RecordingSleep:
    def __init__(self) -> None:
        self.delays_s: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays_s.append(seconds)


RETRY = RetryPolicy(max_attempts=5, base_delay_s=0.5, max_delay_s=2.0)


@pytest.fixture
def server() -> Iterator[AssetServer]:
    app = AssetServer()
    yield app
    app.close()


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def make_cache(tmp_path: Path, sleep: RecordingSleep):
    def make(budget_bytes: int = 1 << 30, token: str = TOKEN, **options: object) -> ContentCache:
        return ContentCache(
            tmp_path / "cache",
            budget_bytes=budget_bytes,
            transport=UrllibTransport(token, timeout_s=10),
            retry=RETRY,
            sleep=sleep,
            rng=random.Random(7),
            **options,  # type: ignore[arg-type]
        )

    return make


def blob(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def assert_every_installed_file_matches_its_name(root: Path) -> list[str]:
    names = []
    for path in sorted((root / "objects").glob("*/*")):
        assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name, path
        names.append(path.name)
    return names


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


# --- disk budget -------------------------------------------------------------------------------


def install(cache: ContentCache, server: AssetServer, name: str, size: int, age_s: float) -> Asset:
    """Install an asset and backdate it, so eviction order is deterministic."""
    asset = server.add(name, blob(size, seed=int.from_bytes(name.encode())))
    path = cache.ensure(asset)
    os.utime(path, (time.time() - age_s, time.time() - age_s))
    return asset


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


# --- processes ---------------------------------------------------------------------------------

CHILD = """
import sys, types
from devices.cache import ContentCache, IntegrityError, RetryPolicy
from devices.http_fetch import UrllibTransport
root, url, sha256, size, token = sys.argv[1:]
asset = types.SimpleNamespace(sha256=sha256, url=url, size_bytes=int(size))
cache = ContentCache(root, budget_bytes=1 << 30, transport=UrllibTransport(token, timeout_s=10),
                     retry=RetryPolicy(max_attempts=2, base_delay_s=0.01, max_delay_s=0.01))
try:
    cache.ensure(asset)
except IntegrityError:
    sys.exit(3)
"""


def spawn(root: Path, asset: Asset, stderr_path: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    with stderr_path.open("ab") as stderr:
        return subprocess.Popen(
            [sys.executable, "-c", CHILD, str(root), asset.url, asset.sha256,
             str(asset.size_bytes), TOKEN],
            stdout=subprocess.DEVNULL, stderr=stderr, env=env,
        )  # fmt: skip


def wait_until_downloading_or_exited(server: AssetServer, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 15
    while not server.body_started.wait(timeout=0.01):
        if child.poll() is not None or time.monotonic() > deadline:
            return


@pytest.mark.slow
def test_killed_downloads_never_leave_a_wrong_file_under_a_hash_name(server, tmp_path):
    """SIGKILL children at random moments, some while the server sends wrong bytes: after every
    kill, each installed name hashes to itself; a final uninterrupted run installs the asset."""
    rng = random.Random(20240611)
    data = blob(16 << 20, seed=99)
    root = tmp_path / "cache"
    stderr_path = tmp_path / "child-stderr.txt"
    asset = server.add("film.mp4", data, chunk_delay_s=0.002)  # ~0.5 s for the whole file
    behaviour = server.behaviour["/assets/film.mp4"]
    children: list[subprocess.Popen[bytes]] = []
    outcomes = {"killed-mid-download": 0, "installed": 0, "refused-corrupt": 0}
    started = time.monotonic()
    try:
        for _ in range(30):
            if time.monotonic() - started > 30:
                break
            behaviour.corrupt = rng.random() < 0.2
            server.body_started.clear()
            child = spawn(root, asset, stderr_path)
            children.append(child)
            wait_until_downloading_or_exited(server, child)
            # The random kill point is the test, not a synchronisation. Wrong bytes get longer,
            # so some of those runs finish and have their download refused.
            time.sleep(rng.uniform(0, 1.0 if behaviour.corrupt else 0.6))
            child.send_signal(signal.SIGKILL)
            returncode = child.wait(timeout=10)
            assert returncode in (0, 3, -signal.SIGKILL), stderr_path.read_text()

            installed = assert_every_installed_file_matches_its_name(root)
            assert installed in ([], [asset.sha256])
            partial_bytes = 0
            for part in (root / "partial").iterdir():
                assert part.name == f"{asset.sha256}.part"
                partial_bytes = part.stat().st_size
                assert partial_bytes <= len(data)
            if returncode == 3:
                outcomes["refused-corrupt"] += 1
            elif installed:
                outcomes["installed"] += 1
                (root / "objects" / asset.sha256[:2] / asset.sha256).unlink()  # go again
            elif 0 < partial_bytes < len(data):
                outcomes["killed-mid-download"] += 1

        assert outcomes["killed-mid-download"] >= 8, outcomes

        # Run to completion: with wrong bytes nothing is installed, with right bytes it is.
        # (Drop the partial first: a complete, right one would be installed with no request.)
        for part in (root / "partial").iterdir():
            part.unlink()
        behaviour.corrupt = True
        refused = spawn(root, asset, stderr_path)
        children.append(refused)
        assert refused.wait(timeout=60) == 3, stderr_path.read_text()
        assert assert_every_installed_file_matches_its_name(root) == []
        behaviour.corrupt = False
        final = spawn(root, asset, stderr_path)
        children.append(final)
        assert final.wait(timeout=60) == 0, stderr_path.read_text()
        assert assert_every_installed_file_matches_its_name(root) == [asset.sha256]
        assert list((root / "partial").iterdir()) == []
    finally:
        for child in children:
            if child.poll() is None:
                os.kill(child.pid, signal.SIGKILL)
                child.wait()


def test_two_processes_sharing_a_cache_download_once(server, tmp_path):
    data = blob(4 << 20, seed=3)
    asset = server.add("shared", data, chunk_delay_s=0.002)
    root = tmp_path / "cache"
    stderr_path = tmp_path / "child-stderr.txt"
    children = [spawn(root, asset, stderr_path) for _ in range(2)]
    try:
        assert [child.wait(timeout=60) for child in children] == [0, 0], stderr_path.read_text()
    finally:
        for child in children:
            if child.poll() is None:
                os.kill(child.pid, signal.SIGKILL)
                child.wait()
    assert assert_every_installed_file_matches_its_name(root) == [asset.sha256]
    assert len(server.seen("shared")) == 1
