"""Where a device keeps its software: one environment per release, side by side (issue 18).

    <root>/releases/<version>/   a virtual environment with that release's wheel installed
    <root>/current -> releases/<version>   what the launcher starts
    <root>/good    -> releases/<version>   the last release that came up healthy
    <root>/update-state.json              the trial in progress, failed versions, last report
    <root>/healthy                        written by a release on trial once it is healthy

A new release is installed beside the running one and `current` is switched to it; the
launcher (devices/launcher.py, always started from `good`) gives it a deadline to write
`healthy` and otherwise switches `current` back. Releases carry our code only: every
environment reads its third-party dependencies from the folder named in
`<root>/dependencies.pth`, written by the first install (Ansible or `install_first`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from devices.files import write_atomic
from devices.protocol.releases import UpdateReport

log = logging.getLogger(__name__)

_INSTALLED_MARK = ".installed"  # written last: an environment without it is half-built
_PIP_TIMEOUT_S = 600


class InstallError(Exception):
    """A release could not be installed; the running version stays."""


@dataclass(frozen=True)
class Trial:
    version: str
    previous: str
    started_at: datetime


@dataclass(frozen=True)
class UpdateRecord:
    """What `update-state.json` holds."""

    trial: Trial | None = None
    failed: dict[str, str] = field(default_factory=dict)  # version -> why, never retried
    last: UpdateReport | None = None

    def to_json(self) -> dict[str, object]:
        trial = self.trial
        return {
            "trial": None
            if trial is None
            else {
                "version": trial.version,
                "previous": trial.previous,
                "started_at": trial.started_at.isoformat(),
            },
            "failed": dict(sorted(self.failed.items())),
            "last": None if self.last is None else self.last.model_dump(mode="json"),
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> UpdateRecord:
        raw_trial = data.get("trial")
        trial = None
        if isinstance(raw_trial, dict):
            trial = Trial(
                version=str(raw_trial["version"]),
                previous=str(raw_trial["previous"]),
                started_at=datetime.fromisoformat(str(raw_trial["started_at"])),
            )
        failed = data.get("failed")
        last = data.get("last")
        return cls(
            trial=trial,
            failed={str(k): str(v) for k, v in failed.items()} if isinstance(failed, dict) else {},
            last=UpdateReport.model_validate(last) if isinstance(last, dict) else None,
        )


class SoftwareHome:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.releases = root / "releases"
        self.current_link = root / "current"
        self.good_link = root / "good"
        self.state_path = root / "update-state.json"
        self.healthy_path = root / "healthy"
        self.dependencies_path = root / "dependencies.pth"

    # --- environments ----------------------------------------------------------------------

    def env(self, version: str) -> Path:
        return self.releases / version

    def is_installed(self, version: str) -> bool:
        return (self.env(version) / _INSTALLED_MARK).is_file()

    def python(self, link: Path) -> Path:
        """The interpreter of the environment `link` (current or good) points at."""
        return link / "bin" / "python"

    def version_of(self, link: Path) -> str | None:
        try:
            return Path(os.readlink(link)).name
        except OSError:
            return None

    def install(self, wheel: Path, version: str) -> Path:
        """Build `releases/<version>` from the wheel, beside whatever is running."""
        if self.is_installed(version):
            return self.env(version)
        dependencies = self.dependencies_path.read_text(encoding="utf-8").strip()
        target = self.env(version)
        shutil.rmtree(target, ignore_errors=True)  # a half-built one from an earlier try
        self.releases.mkdir(parents=True, exist_ok=True)
        _run([sys.executable, "-m", "venv", "--without-pip", str(target)], "create the environment")
        site = _site_packages(target)
        write_atomic(site / "digital_spaces_dependencies.pth", (dependencies + "\n").encode())
        _run(
            [
                sys.executable, "-m", "pip", "--python", str(target / "bin" / "python"),
                "install", "--no-deps", "--no-index", "--disable-pip-version-check", "--quiet",
                str(wheel),
            ],
            "install the wheel",
        )  # fmt: skip
        write_atomic(target / _INSTALLED_MARK, version.encode())
        return target

    def install_first(self, wheel: Path, version: str, dependencies: Path) -> None:
        """A device's first install (what Ansible does): the release, current and good."""
        self.root.mkdir(parents=True, exist_ok=True)
        write_atomic(self.dependencies_path, (str(dependencies) + "\n").encode())
        self.install(wheel, version)
        self.point(self.current_link, version)
        self.point(self.good_link, version)

    def point(self, link: Path, version: str) -> None:
        """Switch `link` to `releases/<version>` atomically (a new symlink renamed over it)."""
        staged = link.with_name(link.name + ".new")
        staged.unlink(missing_ok=True)
        staged.symlink_to(Path("releases") / version)
        os.replace(staged, link)

    # --- the update record -----------------------------------------------------------------

    def record(self) -> UpdateRecord:
        try:
            data = json.loads(self.state_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return UpdateRecord()
        except (OSError, ValueError) as error:
            log.error("%s is unreadable (%s); starting a new one", self.state_path, error)
            return UpdateRecord()
        return UpdateRecord.from_json(data) if isinstance(data, dict) else UpdateRecord()

    def save(self, record: UpdateRecord) -> None:
        write_atomic(self.state_path, json.dumps(record.to_json(), indent=2).encode())

    def begin_trial(self, version: str, previous: str, report: UpdateReport) -> None:
        """Point `current` at the new release; the launcher takes it from here."""
        self.healthy_path.unlink(missing_ok=True)
        self.save(replace(self.record(), trial=Trial(version, previous, report.at), last=report))
        self.point(self.current_link, version)

    def mark_healthy(self, version: str) -> None:
        write_atomic(self.healthy_path, version.encode())

    def healthy_version(self) -> str | None:
        try:
            return self.healthy_path.read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None


def _site_packages(env: Path) -> Path:
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return env / "lib" / version / "site-packages"


def _run(command: list[str], what: str) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=_PIP_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise InstallError(f"could not {what}: {error}") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise InstallError(f"could not {what}: {' '.join(tail)[:150]}")
