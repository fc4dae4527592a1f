"""The launcher and the software home with real environments (issue 18): a release that
exits before it is healthy is rolled back by the launcher, which runs from the good one."""

from __future__ import annotations

import subprocess
import sysconfig
from datetime import UTC, datetime
from pathlib import Path

from devices.launcher import child_environment
from devices.protocol.releases import UpdateReport, UpdateState
from devices.software_home import SoftwareHome
from devices.systemd import watchdog_interval_s
from testkit.releases import build_wheel

DEPENDENCIES = Path(sysconfig.get_paths()["purelib"])


def _installed_home(tmp_path: Path) -> SoftwareHome:
    home = SoftwareHome(tmp_path / "software")
    home.install_first(build_wheel("1.0.0", tmp_path / "wheels"), "1.0.0", DEPENDENCIES)
    return home


def _launch(home: SoftwareHome, *child: str) -> subprocess.CompletedProcess[str]:
    """The launcher as systemd starts it: from the good release, outside any source tree."""
    return subprocess.run(
        [str(home.python(home.good_link)), "-P", "-m", "digital_spaces", "launch",
         "--root", str(home.root), "--trial-s", "60", "--", *child],
        cwd=home.root, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_each_release_imports_its_own_code(tmp_path):
    home = _installed_home(tmp_path)
    home.install(build_wheel("1.1.0", tmp_path / "wheels"), "1.1.0")
    for version in ("1.0.0", "1.1.0"):
        printed = subprocess.run(
            [str(home.env(version) / "bin" / "python"), "-P", "-c",
             "import devices, flask; print(devices.__version__, devices.__file__)"],
            cwd=home.root, capture_output=True, text=True, timeout=60, check=True,
        ).stdout.split()  # fmt: skip
        assert printed[0] == version
        assert printed[1].startswith(str(home.env(version)))


def test_a_release_that_dies_before_it_is_healthy_is_rolled_back(tmp_path):
    home = _installed_home(tmp_path)
    home.install(build_wheel("1.1.0", tmp_path / "wheels", broken=True), "1.1.0")
    trial = UpdateReport(version="1.1.0", state=UpdateState.TRIAL, at=datetime.now(UTC))
    home.begin_trial("1.1.0", previous="1.0.0", report=trial)
    assert home.version_of(home.current_link) == "1.1.0"

    # The broken release exits at once; the good one then runs the command and exits 0.
    done = _launch(home, "protocol", "export-schemas", "--out", str(tmp_path / "schemas"))

    assert done.returncode == 0, done.stderr
    assert "broken on purpose" in done.stderr
    assert home.version_of(home.current_link) == "1.0.0"
    assert home.version_of(home.good_link) == "1.0.0"
    record = home.record()
    assert record.trial is None
    assert "1.1.0" in record.failed
    assert record.last is not None and record.last.state is UpdateState.ROLLED_BACK
    assert "before it was healthy" in record.last.detail
    assert (tmp_path / "schemas" / "ds.release.v1.schema.json").is_file()


def test_a_half_built_environment_is_built_again(tmp_path):
    home = _installed_home(tmp_path)
    half = home.env("1.2.0")
    half.mkdir(parents=True)
    (half / "leftover").write_text("from an interrupted install")
    assert not home.is_installed("1.2.0")
    home.install(build_wheel("1.2.0", tmp_path / "wheels"), "1.2.0")
    assert home.is_installed("1.2.0")
    assert not (half / "leftover").exists()


def test_the_child_feeds_the_watchdog_systemd_set_for_the_launcher():
    # systemd gives the launcher (the main process) WATCHDOG_USEC and its own pid; the child
    # must still see the watchdog as its own, or the service is killed after WatchdogSec.
    launcher_env = {"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1", "NOTIFY_SOCKET": "@x"}
    child_env = child_environment(launcher_env)
    assert watchdog_interval_s(launcher_env) is None  # what the child saw, unchanged
    assert watchdog_interval_s(child_env) == 15.0
    assert child_env["NOTIFY_SOCKET"] == "@x"
