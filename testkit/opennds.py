"""The real openNDS in network namespaces, brought up and down by the shared harness script
(called, not copied), for the tests and the benches alike."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path("/work/shared/tools/opennds-netns.sh")


class HarnessUpFailed(RuntimeError):
    """`opennds-netns.sh up` exited non-zero; `stderr` is what it said."""

    def __init__(self, stderr: str) -> None:
        super().__init__(f"harness up failed: {stderr[-2000:]}")
        self.stderr = stderr


@dataclass(frozen=True)
class NetnsRun:
    """One run of the harness: its id, the environment it was started with, and the
    NAME=value lines `up` printed (namespaces, addresses, the run directory's files)."""

    run_id: str
    env: dict[str, str]
    values: dict[str, str]

    def is_up(self) -> bool:
        """Whether openNDS is still running (it can fall over during a run)."""
        status = subprocess.run(
            [str(SCRIPT), "status"], env=self.env, capture_output=True, text=True, check=False
        ).stdout
        return "STATUS=up" in status

    def opennds_log_tail(self, lines: int = 8) -> list[str]:
        return opennds_log_tail(self.values, lines)


def opennds_log_tail(values: Mapping[str, str], lines: int = 8) -> list[str]:
    """The last lines of openNDS's log, from the NAME=value lines `up` printed."""
    log = Path(values["OPENNDS_LOG"]).read_text(errors="replace")
    return log.splitlines()[-lines:]


@contextmanager
def netns_run(
    run_id: str, settings: Mapping[str, str], *, up_timeout_s: float = 120
) -> Iterator[NetnsRun]:
    """The harness up with these settings (its environment variables: FAS_SECURE,
    NDS_SPLASH, CHECKINTERVAL...), and down again however the block ends."""
    env = {**os.environ, "DSNDS_ID": run_id, **settings}
    try:
        up = subprocess.run(
            [str(SCRIPT), "up"],
            env=env,
            capture_output=True,
            text=True,
            timeout=up_timeout_s,
            check=False,
        )
        if up.returncode != 0:
            raise HarnessUpFailed(up.stderr)
        values = dict(line.split("=", 1) for line in up.stdout.splitlines() if "=" in line)
        yield NetnsRun(run_id, env, values)
    finally:
        subprocess.run([str(SCRIPT), "down"], env=env, capture_output=True, timeout=90, check=False)
