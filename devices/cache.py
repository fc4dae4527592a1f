"""The content cache: assets fetched by URL, checked against sha256 and size, installed atomically.

Layout under `root`:

    objects/ab/abcdef...        installed assets, named by the lowercase hex sha256 of their bytes
    partial/abcdef....part      downloads under way or interrupted, resumed with an HTTP Range

A name under `objects/` is only ever made by renaming a partial whose sha256 and size were
verified and whose bytes were fsynced, and the directory is fsynced after the rename. So whatever
moment the process is killed, an installed name holds the bytes it names. Disk corruption is the
exception: `verify_all()` rehashes everything and removes what does not match, but start-up
(`recover()`, run by the constructor) stays cheap and never rehashes: it removes stray files and
keeps well-named partials for resuming. `ensure()` also checks an installed file's size.

A partial is locked with `flock` while it is written, so two processes sharing a cache never
write the same partial (the second waits, then finds the asset installed), and a lock held by a
killed process is released by the kernel. Within a process a lock per sha256 does the same for
threads. The disk budget's reservations are per process: two processes sharing one cache can
together overshoot it by what they download at the same moment.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from devices.files import fsync_folder
from devices.http_fetch import (
    AssetLike,
    CacheError,
    Downloader,
    DownloadError,
    IntegrityError,
    InvalidAssetError,
    RetryPolicy,
    Transport,
    check_asset,
    check_sha,
)

__all__ = [
    "AssetLike",
    "CacheError",
    "CacheFullError",
    "ContentCache",
    "DownloadError",
    "Eviction",
    "IntegrityError",
    "InvalidAssetError",
    "ProgressCallback",
    "RetryPolicy",
]

log = logging.getLogger(__name__)

_SHA256 = re.compile(r"[0-9a-f]{64}")
_PARTIAL_SUFFIX = ".part"

ProgressCallback = Callable[[str, int, int], None]
"""`progress(sha256, received_bytes, total_bytes)`; throttled, never goes backwards."""


class CacheFullError(CacheError):
    def __init__(
        self, sha256s: Collection[str], needed_bytes: int, budget_bytes: int, protected_bytes: int
    ) -> None:
        names = ", ".join(sorted(sha256s))
        super().__init__(
            f"assets {names} need {needed_bytes} bytes but the budget is {budget_bytes} bytes"
            f" and {protected_bytes} bytes are protected or in use; raise budget_bytes or"
            " shrink the manifest"
        )
        self.sha256s = tuple(sorted(sha256s))
        self.needed_bytes = needed_bytes
        self.budget_bytes = budget_bytes
        self.protected_bytes = protected_bytes


@dataclass(frozen=True)
class Eviction:
    removed: tuple[str, ...]
    freed_bytes: int


@dataclass
class _Inventory:
    finals: dict[str, os.stat_result] = field(default_factory=dict)
    partials: dict[str, int] = field(default_factory=dict)


class _ProgressGate:
    """Passes progress on every `step_bytes` and at the end, never backwards (a restart from
    byte 0 stays silent until it passes what was already reported)."""

    def __init__(self, callback: ProgressCallback | None, total: int, step_bytes: int) -> None:
        self._callback = callback
        self._total = total
        self._step = max(step_bytes, -(-total // 100))
        self._last = 0

    def __call__(self, sha256: str, received: int) -> None:
        if self._callback is None or received <= self._last:
            return
        if received < self._total and received - self._last < self._step:
            return
        self._last = received
        self._callback(sha256, received, self._total)

    def offset(self, sha256: str, base: int) -> Callable[[int], None]:
        """Bytes of one asset, reported as `base` + bytes within a batch."""
        return lambda received: self(sha256, base + received)


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class ContentCache:
    """Installed assets by sha256 under `root`, within `budget_bytes`. Safe to share between
    threads and between processes (see the module docstring for what that covers)."""

    def __init__(
        self,
        root: Path | str,
        *,
        budget_bytes: int,
        transport: Transport,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        progress_every_bytes: int = 1 << 20,
    ) -> None:
        """`progress_every_bytes`: progress is reported at most this often, or every 1 %,
        whichever is coarser. The constructor calls `recover()` (cheap: no rehashing)."""
        if budget_bytes < 0:
            raise ValueError(f"budget_bytes={budget_bytes}: must be 0 or more")
        self.root = Path(root)
        self.budget_bytes = budget_bytes
        self._objects = self.root / "objects"
        self._partial = self.root / "partial"
        self._downloader = Downloader(transport, retry=retry, sleep=sleep, rng=rng)
        self._progress_every_bytes = progress_every_bytes
        self._state_lock = threading.Lock()  # guards _reserved, _sha_locks, scans and evictions
        self._sha_locks: dict[str, threading.RLock] = {}
        self._reserved: dict[str, int] = {}  # sha256 -> bytes, downloads under way here
        self.recover()

    # --- queries ---------------------------------------------------------------------------

    def path(self, sha256: str) -> Path | None:
        """The installed file for `sha256`, or None."""
        final = self._final_path(check_sha(sha256))
        return final if final.is_file() else None

    def has(self, sha256: str) -> bool:
        return self.path(sha256) is not None

    def usage_bytes(self) -> int:
        """Bytes of installed assets and partial downloads."""
        inventory = self._scan()
        return sum(st.st_size for st in inventory.finals.values()) + sum(
            inventory.partials.values()
        )

    # --- downloads -------------------------------------------------------------------------

    def ensure(
        self,
        asset: AssetLike,
        *,
        keep: Collection[str] | None = None,
        progress: ProgressCallback | None = None,
    ) -> Path:
        """Return the installed file for `asset`, downloading it first if needed.

        To make room it evicts, oldest first, assets and partials not in `keep` (the sha256s
        the current and pending manifests need); with `keep=None` it evicts nothing. Raises
        CacheFullError before downloading if the asset cannot fit even so, DownloadError,
        IntegrityError (nothing installed) or InvalidAssetError.
        """
        sha = check_asset(asset)
        gate = _ProgressGate(progress, asset.size_bytes, self._progress_every_bytes)
        protected = None if keep is None else {*keep, sha}
        return self._ensure(asset, protected, gate.offset(sha, 0))

    def prepare(
        self,
        assets: Iterable[AssetLike],
        *,
        keep: Collection[str] = (),
        progress: ProgressCallback | None = None,
    ) -> dict[str, Path]:
        """Ensure every asset of a manifest, protecting them and `keep` from eviction.

        Checks first that all missing assets fit together, then downloads them one by one;
        `progress(sha256 being fetched, bytes so far, bytes for the whole batch)`. The first
        failure raises; what was installed stays, and partials are resumed next time.
        """
        batch = {check_asset(asset): asset for asset in assets}
        protected = {*keep, *batch}
        missing = {sha: a.size_bytes for sha, a in batch.items() if not self.has(sha)}
        total = sum(missing.values())
        gate = _ProgressGate(progress, total, self._progress_every_bytes)
        if missing:
            with self._state_lock:
                self._make_room(missing, protected)
        paths: dict[str, Path] = {}
        done = 0
        for sha, asset in batch.items():
            paths[sha] = self._ensure(asset, protected, gate.offset(sha, done))
            done += missing.get(sha, 0)
        return paths

    def _ensure(
        self, asset: AssetLike, protected: set[str] | None, on_bytes: Callable[[int], None]
    ) -> Path:
        sha = asset.sha256
        with self._sha_lock(sha):
            final = self._final_path(sha)
            if self._installed_ok(final, asset):
                return final
            with self._state_lock:
                self._make_room({sha: asset.size_bytes}, protected)
                self._reserved[sha] = asset.size_bytes
            try:
                return self._download(asset, on_bytes)
            finally:
                with self._state_lock:
                    del self._reserved[sha]

    def _installed_ok(self, final: Path, asset: AssetLike) -> bool:
        try:
            size = final.stat().st_size
        except FileNotFoundError:
            return False
        if size == asset.size_bytes:
            return True
        # Rare: either the file is damaged or the reference is wrong. Rehash to tell which.
        if self.verify(asset.sha256):
            raise IntegrityError(asset.sha256, "size_bytes", asset.size_bytes, size)
        return False

    def _download(self, asset: AssetLike, on_bytes: Callable[[int], None]) -> Path:
        sha = asset.sha256
        partial = self._partial_path(sha)
        fd = self._lock_partial(partial)
        try:
            final = self._final_path(sha)
            if self._installed_ok(final, asset):  # another process installed it while we waited
                partial.unlink()
                return final
            self._downloader.fetch(fd, asset, on_bytes)
            os.fchmod(fd, 0o444)
            os.fsync(fd)
            if not final.parent.is_dir():
                final.parent.mkdir(exist_ok=True)
                fsync_folder(self._objects)
            os.replace(partial, final)  # atomic: the name appears with all its bytes, or not
            fsync_folder(final.parent)
        except IntegrityError:
            partial.unlink(missing_ok=True)  # still ours: we hold its lock
            raise
        finally:
            os.close(fd)
        log.info("asset %s installed (%s bytes)", sha, asset.size_bytes)
        return final

    # --- disk budget -----------------------------------------------------------------------

    def evict(self, keep: Collection[str]) -> Eviction:
        """Delete every installed asset and partial not in `keep` (and not being downloaded)."""
        with self._state_lock:
            inventory = self._scan()
            doomed = {sha for sha in [*inventory.finals, *inventory.partials] if sha not in keep}
            return self._remove(doomed - self._reserved.keys(), inventory)

    def _make_room(self, needed: dict[str, int], protected: set[str] | None) -> None:
        """Evict what is not protected (partials first, then installed assets, oldest first)
        until `needed` fits. CacheFullError before evicting anything if evicting all of it would
        not do (or after, if another process holds a partial). Call with _state_lock held."""
        inventory = self._scan()
        charges: dict[str, int] = {sha: st.st_size for sha, st in inventory.finals.items()}
        for sha, size in inventory.partials.items():
            charges[sha] = charges.get(sha, 0) + size
        charges.update(self._reserved)  # a download under way will grow to its full size
        for sha in needed:
            charges.pop(sha, None)
        needed_bytes = sum(needed.values())
        used = sum(charges.values()) + needed_bytes
        if used <= self.budget_bytes:
            return
        stuck = protected if protected is not None else charges.keys()
        evictable = charges.keys() - stuck - self._reserved.keys()
        floor = used - sum(charges[sha] for sha in evictable)
        if floor > self.budget_bytes:
            raise CacheFullError(needed, needed_bytes, self.budget_bytes, floor - needed_bytes)

        def age(sha: str) -> tuple[bool, float]:
            st = inventory.finals.get(sha)
            return (st is not None, st.st_mtime if st is not None else 0.0)

        victims: set[str] = set()
        for sha in sorted(evictable, key=age):
            if used <= self.budget_bytes:
                break
            victims.add(sha)
            used -= charges[sha]
        planned = sum(charges[sha] for sha in victims)
        unfreed = planned - self._remove(victims, inventory).freed_bytes
        if used + unfreed > self.budget_bytes:  # a partial locked by another process
            raise CacheFullError(
                needed, needed_bytes, self.budget_bytes, used + unfreed - needed_bytes
            )

    def _remove(self, shas: Iterable[str], inventory: _Inventory) -> Eviction:
        removed: list[str] = []
        freed = 0
        for sha in sorted(shas):
            gone = False
            if sha in inventory.finals:
                final = self._final_path(sha)
                final.unlink(missing_ok=True)
                fsync_folder(final.parent)
                freed += inventory.finals[sha].st_size
                gone = True
            if sha in inventory.partials and self._remove_partial_if_idle(self._partial_path(sha)):
                freed += inventory.partials[sha]
                gone = True
            if gone:
                removed.append(sha)
        if removed:
            log.info("evicted %s asset(s), %s bytes: %s", len(removed), freed, removed)
        return Eviction(tuple(removed), freed)

    @staticmethod
    def _remove_partial_if_idle(partial: Path) -> bool:
        """Unlink a partial unless a download (here or in another process) holds its lock."""
        try:
            fd = os.open(partial, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            return False
        try:
            if not _try_lock(fd):
                return False
            partial.unlink(missing_ok=True)
            return True
        finally:
            os.close(fd)

    # --- start-up and integrity ------------------------------------------------------------

    def recover(self) -> None:
        """Cheap start-up check: make the folders, delete files the cache did not name (stray
        temporary files), keep well-named partials to resume. Installed assets are not
        rehashed: that is `verify_all()`, to run when there is time."""
        for folder in (self.root, self._objects, self._partial):
            folder.mkdir(parents=True, exist_ok=True)
        stray = 0
        with self._state_lock:
            for entry in os.scandir(self._partial):
                name = entry.name
                well_named = name.endswith(_PARTIAL_SUFFIX) and _SHA256.fullmatch(
                    name.removesuffix(_PARTIAL_SUFFIX)
                )
                if entry.is_symlink():
                    os.unlink(entry.path)
                    stray += 1
                elif entry.is_file() and not well_named:
                    stray += self._remove_partial_if_idle(Path(entry.path))
            for shard in os.scandir(self._objects):
                if not shard.is_dir(follow_symlinks=False):
                    continue
                for entry in os.scandir(shard.path):
                    misnamed = not _SHA256.fullmatch(entry.name) or entry.name[:2] != shard.name
                    if entry.is_symlink() or (misnamed and entry.is_file()):
                        os.unlink(entry.path)
                        stray += 1
            inventory = self._scan()
        log.info(
            "content cache %s: %s assets, %s partial downloads to resume, %s stray files removed",
            self.root,
            len(inventory.finals),
            len(inventory.partials),
            stray,
        )

    def verify(self, sha256: str) -> bool:
        """Rehash one installed asset; remove it if its bytes do not match its name."""
        final = self._final_path(check_sha(sha256))
        with self._sha_lock(sha256):
            try:
                with final.open("rb") as file:
                    actual = hashlib.file_digest(file, "sha256").hexdigest()
            except FileNotFoundError:
                return False
            if actual == sha256:
                return True
            log.error("asset %s is corrupt on disk (hashes to %s); removed", sha256, actual)
            final.unlink(missing_ok=True)
            fsync_folder(final.parent)
            return False

    def verify_all(self) -> list[str]:
        """Rehash every installed asset (slow: reads everything); return the sha256s removed."""
        return [sha for sha in sorted(self._scan().finals) if not self.verify(sha)]

    # --- paths and locks -------------------------------------------------------------------

    def _final_path(self, sha256: str) -> Path:
        return self._objects / sha256[:2] / sha256

    def _partial_path(self, sha256: str) -> Path:
        return self._partial / f"{sha256}{_PARTIAL_SUFFIX}"

    @contextmanager
    def _sha_lock(self, sha256: str) -> Iterator[None]:
        with self._state_lock:
            lock = self._sha_locks.setdefault(sha256, threading.RLock())
        with lock:
            yield

    def _lock_partial(self, partial: Path) -> int:
        """Open the partial and hold its flock; waits while another process downloads it."""
        while True:
            fd = os.open(partial, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
            try:
                if not _try_lock(fd):
                    log.info("waiting for another process downloading %s", partial.name)
                    fcntl.flock(fd, fcntl.LOCK_EX)
                # The holder may have renamed or removed it meanwhile: then lock a new one.
                if os.stat(partial).st_ino == os.fstat(fd).st_ino:
                    return fd
            except FileNotFoundError:
                pass
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)

    def _scan(self) -> _Inventory:
        inventory = _Inventory()
        for shard in os.scandir(self._objects):
            if shard.is_dir(follow_symlinks=False):
                for entry in os.scandir(shard.path):
                    if _SHA256.fullmatch(entry.name):
                        inventory.finals[entry.name] = entry.stat(follow_symlinks=False)
        for entry in os.scandir(self._partial):
            sha = entry.name.removesuffix(_PARTIAL_SUFFIX)
            if entry.name.endswith(_PARTIAL_SUFFIX) and _SHA256.fullmatch(sha):
                try:
                    inventory.partials[sha] = entry.stat(follow_symlinks=False).st_size
                except FileNotFoundError:
                    continue
        return inventory
