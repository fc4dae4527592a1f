"""`digital-spaces launch --root /opt/digital-spaces -- player --config device.toml`.

The device service (systemd, Restart=always) starts this from `<root>/good`, the last
release that came up healthy, never from the one on trial: so the code that rolls back a
bad release is always code that worked. It runs `<root>/current`'s `digital-spaces` as a
child and, while a release is on trial, waits for the child to write `<root>/healthy`;
if the child exits first or the deadline passes, it stops the child, points `current`
back at the previous release, records why (the device reports it in its status), and
starts the previous release again. A child that exits with RESTART_EXIT_CODE has
switched `current` itself (a new release is installed) and is started again at once.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from devices.protocol.releases import UpdateReport, UpdateState
from devices.software_home import SoftwareHome

log = logging.getLogger(__name__)

RESTART_EXIT_CODE = 75  # EX_TEMPFAIL: "start me again", after switching releases
DEFAULT_TRIAL_S = 120.0
_POLL_S = 0.2  # how often the launcher looks for the trial's `healthy` file
_STOP_GRACE_S = 15.0


class Launcher:
    def __init__(
        self,
        home: SoftwareHome,
        child_args: Sequence[str],
        *,
        trial_deadline_s: float = DEFAULT_TRIAL_S,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.home = home
        self.child_args = list(child_args)
        self.trial_deadline_s = trial_deadline_s
        self._now = now
        self._stopping = threading.Event()
        self._child: subprocess.Popen[bytes] | None = None

    def run(self) -> int:
        while not self._stopping.is_set():
            record = self.home.record()
            child = self._start()
            if record.trial is not None:
                failure = self._trial_failure(child, record.trial.version)
                if failure is not None:
                    self._roll_back(child, record.trial.version, record.trial.previous, failure)
                    continue
            code = child.wait()
            if code != RESTART_EXIT_CODE or self._stopping.is_set():
                return code
            log.info("the device switched releases; starting %s", self._current_version())
        return 0

    def stop(self) -> None:
        """On SIGTERM: stop the child and return its exit code."""
        self._stopping.set()
        if self._child is not None and self._child.poll() is None:
            self._child.terminate()

    def _current_version(self) -> str:
        return self.home.version_of(self.home.current_link) or "?"

    def _start(self) -> subprocess.Popen[bytes]:
        python = self.home.python(self.home.current_link)
        log.info("starting %s: %s", self._current_version(), " ".join(self.child_args))
        # -P and cwd: the release imports its own code, never a source tree it was started in.
        self._child = subprocess.Popen(
            [str(python), "-P", "-m", "digital_spaces", *self.child_args],
            cwd=self.home.root,
            env=child_environment(os.environ),
        )
        return self._child

    def _trial_failure(self, child: subprocess.Popen[bytes], version: str) -> str | None:
        """Wait for the release on trial to call itself healthy and promote it (None), or
        say why it failed."""
        waited = 0.0
        while waited < self.trial_deadline_s:
            if self.home.healthy_version() == version:
                self._promote(version)
                return None
            try:
                code = child.wait(timeout=_POLL_S)
            except subprocess.TimeoutExpired:
                waited += _POLL_S
                continue
            return f"{version} exited with code {code} before it was healthy"
        return f"{version} was not healthy within {self.trial_deadline_s:.0f} s"

    def _promote(self, version: str) -> None:
        self.home.point(self.home.good_link, version)
        report = UpdateReport(version=version, state=UpdateState.INSTALLED, at=self._now())
        self.home.save(replace(self.home.record(), trial=None, last=report))
        log.info("release %s is healthy: it is now the good release", version)

    def _roll_back(
        self, child: subprocess.Popen[bytes], version: str, previous: str, why: str
    ) -> None:
        _stop(child)
        log.error("rolling back to %s: %s", previous, why)
        self.home.point(self.home.current_link, previous)
        record = self.home.record()
        report = UpdateReport(
            version=version, state=UpdateState.ROLLED_BACK, detail=why[:200], at=self._now()
        )
        self.home.save(
            replace(record, trial=None, failed={**record.failed, version: why}, last=report)
        )


def child_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The child's environment: the launcher's, but the watchdog is the child's to feed.

    systemd names the launcher (its main process) in WATCHDOG_PID, and a process that is not
    named there must not answer the watchdog; the unit's NotifyAccess=all lets the child's
    messages in."""
    return {name: value for name, value in environ.items() if name != "WATCHDOG_PID"}


def _stop(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(timeout=_STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=_STOP_GRACE_S)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="digital-spaces launch", description=__doc__)
    parser.add_argument("--root", type=Path, required=True, help="the device's software folder")
    parser.add_argument(
        "--trial-s",
        type=float,
        default=DEFAULT_TRIAL_S,
        help="how long a new release has to report healthy before it is rolled back",
    )
    parser.add_argument("child", nargs=argparse.REMAINDER, help="-- then the part to run")
    options = parser.parse_args(argv)
    child = options.child[1:] if options.child[:1] == ["--"] else options.child
    if not child:
        parser.error("say which part to run, e.g. -- player --config device.toml")
    launcher = Launcher(SoftwareHome(options.root), child, trial_deadline_s=options.trial_s)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        launcher.stop()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    return launcher.run()
