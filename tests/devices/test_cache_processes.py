"""The content cache across processes: downloads killed at any moment never leave a wrong
file under a hash name, and two processes sharing a cache download once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.devices.cache_server import (
    TOKEN,
    Asset,
    AssetServer,
    assert_every_installed_file_matches_its_name,
    blob,
)

# --- processes ---------------------------------------------------------------------------------

REPO_ROOT = Path(__file__).resolve().parents[2]
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
