"""The real openNDS in network namespaces, via the shared harness script (called, not copied)."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from testkit.opennds import SCRIPT, netns_run


def skip_unless_possible(level: int = 1) -> None:
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    if not SCRIPT.exists() or shutil.which("opennds") is None:
        pytest.skip("openNDS or the harness is missing (apt-get install -y opennds)")
    if level == 2 and shutil.which("php") is None:
        pytest.skip("FAS level 2 in the harness needs php-cli")


@dataclass
class Harness:
    run_id: str
    env: dict[str, str]

    @property
    def ndsctl(self) -> tuple[str, ...]:
        return (str(SCRIPT), "--id", self.run_id, "ndsctl")

    @property
    def ndsctl_socket(self) -> Path:
        """openNDS's control socket (its /tmp is the run directory's tmp/)."""
        return Path(self.env["RUN_DIR"]) / "tmp" / "ndsctl.sock"

    @property
    def in_gw(self) -> tuple[str, ...]:
        """Prefix that runs a command in the gateway's namespace (iptables, nft)."""
        return (str(SCRIPT), "--id", self.run_id, "exec", "gw")

    def client(self, *argv: str, timeout_s: float = 15) -> subprocess.CompletedProcess[str]:
        """Run a command inside the client namespace (the phone)."""
        return subprocess.run(
            [str(SCRIPT), "--id", self.run_id, "exec", "client", *argv],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )

    def curl(self, *args: str) -> tuple[int, str, str]:
        """(status, redirect location, body) of one request from the phone, no redirects."""
        done = self.client("curl", "-s", "-m", "8", "-w", "\n%{http_code} %{redirect_url}", *args)
        body, _, tail = done.stdout.rpartition("\n")
        code, _, location = tail.partition(" ")
        return int(code or 0), location, body

    def first_contact(self, *args: str, tries: int = 3) -> tuple[int, str, str]:
        """`curl` for a phone openNDS does not know yet (its captive probe), asked again
        only when openNDS turned it away through its SIGCHLD race: on a client's first
        request openNDS 9.10 checks the lease with `libopennds.sh dhcpcheck` through
        popen, while its watchdog thread (every CHECKINTERVAL) swaps the process-wide
        SIGCHLD handler around its own popen; the handler can reap the dhcpcheck child,
        pclose fails, and openNDS logs "IP not allocated by dhcp [IP]" and answers 403.
        A phone's OS probes again; any other answer is returned as it came."""
        race = f"IP not allocated by dhcp [{self.env['CLIENT_IP']}]"
        log = Path(self.env["OPENNDS_LOG"])
        for _ in range(tries - 1):
            seen = log.stat().st_size
            answer = self.curl(*args)
            if answer[0] != 403:
                return answer
            with log.open("rb") as handle:
                handle.seek(seen)
                if race not in handle.read().decode(errors="replace"):
                    return answer
        return self.curl(*args)


@contextmanager
def opennds(level: int, portal_port: int, faskey: str, **settings: str) -> Iterator[Harness]:
    run_id = f"portal-{uuid.uuid4().hex[:8]}"
    settings = {
        "FAS_SECURE": str(level),
        "FAS_KEY": faskey,
        "FAS_RELAY": "1",
        "FAS_RELAY_PORT": str(portal_port),
        "CHECKINTERVAL": "2",
        **settings,
    }
    with netns_run(run_id, settings, up_timeout_s=90) as run:
        yield Harness(run_id, run.values)


# Per-second byte counts of one download, run by the phone's own Python, then its total
# bytes and seconds (an unthrottled download on veth can end within its first second).
_TIMELINE = """
import sys, time, urllib.request
url, seconds = sys.argv[1], float(sys.argv[2])
start, total, marks, next_mark = time.monotonic(), 0, [], 1.0
with urllib.request.urlopen(url, timeout=seconds + 5) as answer:
    while chunk := answer.read(16384):
        total += len(chunk)
        now = time.monotonic() - start
        while now >= next_mark:
            marks.append(total)
            next_mark += 1
        if now >= seconds:
            break
print(" ".join(map(str, marks)))
print(total, time.monotonic() - start)
"""


@dataclass(frozen=True)
class Download:
    marks: list[int]  # bytes received by the end of each whole second
    total_bytes: int
    seconds: float

    @property
    def mean_kbps(self) -> float:
        return self.total_bytes * 8 / 1000 / self.seconds


def download_timeline(harness: Harness, url: str, seconds: int) -> Download:
    """One download from the phone, at most `seconds` long."""
    done = harness.client("python3", "-c", _TIMELINE, url, str(seconds), timeout_s=seconds + 15)
    assert done.returncode == 0, done.stderr[-500:]
    marks, _, tail = done.stdout.strip().rpartition("\n")
    total, elapsed = tail.split()
    return Download([int(mark) for mark in marks.split()], int(total), float(elapsed))


def median_kbps(marks: list[int]) -> float:
    """The median of the per-second rates (openNDS's limit is a moving-average bucket
    that lets a burst through now and then; the median is the rate it holds)."""
    steps = sorted(b - a for a, b in zip([0, *marks], marks, strict=False))
    return steps[len(steps) // 2] * 8 / 1000 if steps else 0.0


def mtu_sized_frames(harness: Harness) -> None:
    """Make every veth of the run hand on MTU-sized packets, as Wi-Fi does. veth's
    segmentation offload passes 64 kB super-packets, and openNDS's rate limit counts
    packets (an nft limit in packets/min, sized from the average packet), so with offload
    a limited phone still gets tens of Mbit/s."""
    links = (
        (harness.env["UP_NS"], "eth0"),
        (harness.env["GW_NS"], "wan0"),
        (harness.env["GW_NS"], "br-lan"),
        (harness.env["GW_NS"], "lan1"),
        (harness.env["CLIENT_NS"], "eth0"),
    )
    for namespace, link in links:
        subprocess.run(
            ["ip", "-n", namespace, "link", "set", "dev", link, "gso_max_segs", "1"],
            check=True,
            capture_output=True,
        )
