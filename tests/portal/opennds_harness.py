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

SCRIPT = Path("/work/shared/tools/opennds-netns.sh")


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


@contextmanager
def opennds(level: int, portal_port: int, faskey: str, **settings: str) -> Iterator[Harness]:
    run_id = f"portal-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DSNDS_ID": run_id,
        "FAS_SECURE": str(level),
        "FAS_KEY": faskey,
        "FAS_RELAY": "1",
        "FAS_RELAY_PORT": str(portal_port),
        "CHECKINTERVAL": "2",
        **settings,
    }
    try:
        up = subprocess.run(
            [str(SCRIPT), "up"], env=env, capture_output=True, text=True, timeout=90, check=False
        )
        if up.returncode != 0:
            raise RuntimeError(f"harness up failed: {up.stderr[-2000:]}")
        values = dict(line.split("=", 1) for line in up.stdout.splitlines() if "=" in line)
        yield Harness(run_id, values)
    finally:
        subprocess.run([str(SCRIPT), "down"], env=env, capture_output=True, timeout=60, check=False)
