"""The roles converge on a throwaway Debian root, a second run changes nothing, and what they
render is what the services need.

One Debian root per role (debootstrap, cached) is provisioned by its playbook through the
chroot connection, with the application installed from a wheel built from this checkout.
Services are not started in a chroot; files, packages and unit enablement are real.
"""

from __future__ import annotations

import os
import shutil

import pytest

from tests.ansible.estate import (
    BIN,
    CMS,
    CONVERGE_MARKS,
    GOOD_PYTHON,
    PLAYBOOKS,
    PLAYER,
    PORTAL,
    SOFTWARE_ROOT,
    VERSION,
    Estate,
)

DEVICES = (PLAYER, PORTAL)

pytestmark = CONVERGE_MARKS


# --- convergence ------------------------------------------------------------------------------


@pytest.mark.parametrize("host", list(PLAYBOOKS))
def test_playbook_converges_and_a_second_run_changes_nothing(estate: Estate, host: str) -> None:
    first, second = estate.first[host], estate.second[host]
    assert first.returncode == 0, first.explain()
    assert first.recap()[host]["failed"] == 0, first.explain()
    assert second.returncode == 0, second.explain()
    recap = second.recap()[host]
    assert recap["changed"] == 0, "second run changed:\n" + "\n".join(second.changed_tasks())
    assert recap["failed"] == recap["unreachable"] == 0, second.explain()


def test_the_cms_is_installed_in_its_virtualenv(estate: Estate) -> None:
    ran = estate.chroot(CMS, f"{BIN}/digital-spaces", "--help")
    assert ran.returncode == 0, ran.stderr
    assert "cms" in ran.stdout and "ingest" in ran.stdout


@pytest.mark.parametrize("host", DEVICES)
def test_a_device_has_one_release_current_and_good(estate: Estate, host: str) -> None:
    root = estate.path(host, SOFTWARE_ROOT)
    assert os.readlink(root / "current") == os.readlink(root / "good") == f"releases/{VERSION}"
    assert (root / "releases" / VERSION / ".installed").is_file()
    # The service account installs later releases beside this one; what Ansible built is root's.
    service = estate.uid(host, "digital-spaces")
    assert (root.stat().st_uid, (root / "releases").stat().st_uid) == (service, service)
    assert (root / "releases" / VERSION / "bin" / "python").lstat().st_uid == 0
    # Third-party packages (and the pip a release installs the next with) come from one place;
    # our own code only from the release.
    (dependencies,) = estate.text(host, f"{SOFTWARE_ROOT}/dependencies.pth").split()
    assert dependencies.startswith(f"{SOFTWARE_ROOT}/dependencies/")
    shared = estate.path(host, dependencies)
    for package in ("pydantic", "paho", "pip"):
        assert (shared / package).is_dir(), f"{package} is not in {dependencies}"
    assert not (shared / "devices").exists() and not (shared / "digital_spaces").exists()
    printed = estate.chroot(
        host, GOOD_PYTHON, "-P", "-c", "import devices, pydantic; print(devices.__file__)"
    )
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.startswith(f"{SOFTWARE_ROOT}/good/lib/")


@pytest.mark.parametrize("host", DEVICES)
def test_the_launcher_starts_the_current_release_as_the_service_account(
    estate: Estate, host: str
) -> None:
    ran = estate.chroot(
        host,
        *f"{GOOD_PYTHON} -P -m digital_spaces launch --root {SOFTWARE_ROOT} -- --help".split(),
        user="digital-spaces",
    )
    assert ran.returncode == 0, ran.stderr
    assert "player" in ran.stdout and "portal" in ran.stdout


def test_the_device_can_install_a_release_beside_the_running_one(estate: Estate) -> None:
    """What an update does on the device, as the service account: the software root and the
    shared pip allow it (devices/software_home.py)."""
    (wheel,) = estate.path(PLAYER, f"{SOFTWARE_ROOT}/wheels").glob("digital_spaces-*.whl")
    program = (
        "import sys; from pathlib import Path; from devices.software_home import SoftwareHome; "
        "print(SoftwareHome(Path(sys.argv[1])).install(Path(sys.argv[2]), sys.argv[3]))"
    )
    trial = f"{VERSION}.post9"
    try:
        ran = estate.chroot(
            PLAYER,
            *[GOOD_PYTHON, "-P", "-c", program, SOFTWARE_ROOT],
            *[f"{SOFTWARE_ROOT}/wheels/{wheel.name}", trial],
            user="digital-spaces",
        )
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout.strip() == f"{SOFTWARE_ROOT}/releases/{trial}"
        built = estate.chroot(
            PLAYER,
            *[f"{SOFTWARE_ROOT}/releases/{trial}/bin/python", "-P", "-c"],
            "import devices, pydantic; print(devices.__file__)",
        )
        assert built.returncode == 0, built.stderr
        assert built.stdout.startswith(f"{SOFTWARE_ROOT}/releases/{trial}/lib/")
    finally:
        shutil.rmtree(estate.path(PLAYER, f"{SOFTWARE_ROOT}/releases/{trial}"), ignore_errors=True)


def test_every_machine_runs_on_the_city_clock(estate: Estate) -> None:
    for host in PLAYBOOKS:
        assert os.readlink(estate.path(host, "/etc/localtime")).endswith("Australia/Perth")
        assert estate.text(host, "/etc/hostname") == f"{host}\n"


# --- units -------------------------------------------------------------------------------------


UNITS = {
    PLAYER: ["digital-spaces-player.service"],
    PORTAL: [
        "digital-spaces-portal.service",
        "digital-spaces-ap-nat.service",
        "hostapd.service",
        "opennds.service",
    ],
    CMS: [
        "digital-spaces-cms.service",
        "digital-spaces-ingest@1.service",
        "digital-spaces-backup.service",
        "digital-spaces-backup.timer",
    ],
}


@pytest.mark.parametrize("host", list(UNITS))
def test_units_pass_systemd_verify(estate: Estate, host: str) -> None:
    # systemd-analyze prints problems (unknown keys, bad values, missing binaries) as warnings
    # and still exits 0, so a clean unit is one with nothing on stderr.
    ran = estate.chroot(host, "systemd-analyze", "verify", "--man=no", *UNITS[host])
    assert ran.returncode == 0 and ran.stderr == "", ran.stderr


def _unit(estate: Estate, host: str, name: str) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for line in estate.text(host, f"/etc/systemd/system/{name}").splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values.setdefault(key, []).append(value)
    return values


def _enabled(estate: Estate, host: str, unit: str, target: str = "multi-user.target") -> bool:
    return estate.path(host, f"/etc/systemd/system/{target}.wants/{unit}").is_symlink()


def test_player_unit_runs_the_player_unprivileged_with_a_watchdog(estate: Estate) -> None:
    unit = _unit(estate, PLAYER, "digital-spaces-player.service")
    assert unit["ExecStart"] == [
        f"{GOOD_PYTHON} -P -m digital_spaces launch --root {SOFTWARE_ROOT} -- "
        "player --config /etc/digital-spaces/player.toml"
    ]
    assert unit["User"] == ["digital-spaces"]
    assert unit["Restart"] == ["on-failure"]
    # The player, the launcher's child, feeds the watchdog; SIGTERM goes to the launcher,
    # which stops the player.
    assert unit["WatchdogSec"] == ["30"]
    assert unit["NotifyAccess"] == ["all"]
    assert unit["KillMode"] == ["mixed"]
    assert unit["NoNewPrivileges"] == ["yes"]
    assert unit["ProtectSystem"] == ["strict"]
    assert unit["ReadWritePaths"] == [f"/var/lib/digital-spaces {SOFTWARE_ROOT}"]
    assert "video" in unit["SupplementaryGroups"][0].split()
    assert _enabled(estate, PLAYER, "digital-spaces-player.service")


def test_portal_and_access_point_units_are_enabled(estate: Estate) -> None:
    unit = _unit(estate, PORTAL, "digital-spaces-portal.service")
    assert unit["ExecStart"] == [
        f"{GOOD_PYTHON} -P -m digital_spaces launch --root {SOFTWARE_ROOT} -- "
        "portal --config /etc/digital-spaces/portal.toml"
    ]
    assert unit["User"] == ["digital-spaces"]
    assert unit["Restart"] == ["on-failure"]
    assert unit["KillMode"] == ["mixed"]
    assert unit["ReadWritePaths"] == [f"/var/lib/digital-spaces {SOFTWARE_ROOT} /tmp -/run/sudo"]
    for name in UNITS[PORTAL] + ["dnsmasq.service", "systemd-networkd.service"]:
        assert _enabled(estate, PORTAL, name), f"{name} is not enabled"
        masked = estate.path(PORTAL, f"/etc/systemd/system/{name}")
        assert not (masked.is_symlink() and os.readlink(masked) == "/dev/null"), f"{name} masked"


def test_cms_runs_under_gunicorn_with_migrations_first_and_ingest_instances(
    estate: Estate,
) -> None:
    unit = _unit(estate, CMS, "digital-spaces-cms.service")
    (exec_start,) = unit["ExecStart"]
    assert exec_start.startswith(f"{BIN}/gunicorn ")
    assert exec_start.endswith("'central_cms.app:create_app()'")
    # Each worker its own broker account (issue 13, point 7), and each ingest instance.
    assert " --config python:central_cms.gunicorn_conf " in exec_start
    (ingest_start,) = _unit(estate, CMS, "digital-spaces-ingest@.service")["ExecStart"]
    assert " --username ingest-%i " in ingest_start
    assert unit["ExecStartPre"] == [
        f"{BIN}/digital-spaces cms --config /etc/digital-spaces/cms.toml migrate"
    ]
    assert unit["User"] == ["digital-spaces"]
    for name in ("digital-spaces-ingest@1.service", "digital-spaces-ingest@2.service"):
        assert _enabled(estate, CMS, name)
    assert _enabled(estate, CMS, "digital-spaces-backup.timer", "timers.target")
    backup = estate.chroot(CMS, "bash", "-n", "/usr/local/sbin/digital-spaces-backup")
    assert backup.returncode == 0, backup.stderr
