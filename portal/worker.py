"""What a web server worker process does to itself before it builds the app: stop with its
server, and take a core of its own (#6)."""

from __future__ import annotations

import ctypes
import fcntl
import logging
import os
import signal
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def stop_with_the_server(node_pid: int | None) -> None:
    """Granian's workers outlive a killed main process and keep serving on its port, out of
    the node's reach; so the kernel kills this worker when its parent dies, and a worker
    whose parent is already gone (it is no longer the node's grandchild) stops at once.
    SIGKILL, because a worker still building its app runs the main process's SIGTERM
    handler, which would only set a flag in the worker's copy of the server."""
    if sys.platform != "linux":
        return
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if node_pid is None:  # the server was started by hand
        return
    try:
        orphaned = psutil.Process(os.getppid()).ppid() != node_pid
    except psutil.NoSuchProcess:
        orphaned = True
    if orphaned:
        os.kill(os.getpid(), signal.SIGKILL)


def choose_core(allowed: Sequence[int], taken: Iterable[int]) -> int:
    """The allowed core the fewest other workers are pinned to (the lowest on a tie)."""
    counts = Counter(taken)
    return min(allowed, key=lambda core: (counts[core], core))


def pin_to_a_core(workers: int, lock: Path) -> int | None:
    """One core per worker, as nginx's `worker_cpu_affinity auto`: a worker's Rust thread
    and its Python threads hand every request to each other, and on one core those
    hand-offs stay cheap and the workers stop taking turns on both cores. On 2 cores
    under wrk, bench/portal.py measured p99 ~30 ms pinned against ~50 ms not, at more
    requests/s. Only when there is a core for every worker. Called before the server
    starts the worker's threads, which inherit the affinity. Returns the core."""
    allowed = sorted(os.sched_getaffinity(0))
    if workers > len(allowed):
        return None
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # workers starting together choose in turn
        taken = []
        for sibling in psutil.Process(os.getppid()).children():
            if sibling.pid == os.getpid():
                continue
            try:
                cores = sibling.cpu_affinity()
            except psutil.NoSuchProcess:
                continue
            if cores is not None and len(cores) == 1:
                taken.append(cores[0])
        core = choose_core(allowed, taken)
        os.sched_setaffinity(0, {core})
    return core
