"""The roles converge on a throwaway Debian root, a second run changes nothing, and what they
render is what the services need.

One Debian root per role (debootstrap, cached) is provisioned by its playbook through the
chroot connection, with the application installed from a wheel built from this checkout.
Services are not started in a chroot; files, packages and unit enablement are real.
"""

from __future__ import annotations

import os

import pytest

from tests.ansible.estate import BIN, CMS, CONVERGE_MARKS, PLAYBOOKS, PLAYER, PORTAL, Estate

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


def test_the_application_is_installed_in_its_virtualenv(estate: Estate) -> None:
    for host in PLAYBOOKS:
        ran = estate.chroot(host, f"{BIN}/digital-spaces", "--help")
        assert ran.returncode == 0, ran.stderr
        assert "player" in ran.stdout and "portal" in ran.stdout


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
        f"{BIN}/digital-spaces player --config /etc/digital-spaces/player.toml"
    ]
    assert unit["User"] == ["digital-spaces"]
    assert unit["Restart"] == ["on-failure"]
    assert unit["WatchdogSec"] == ["30"]
    assert unit["NoNewPrivileges"] == ["yes"]
    assert unit["ProtectSystem"] == ["strict"]
    assert unit["ReadWritePaths"] == ["/var/lib/digital-spaces"]
    assert "video" in unit["SupplementaryGroups"][0].split()
    assert _enabled(estate, PLAYER, "digital-spaces-player.service")


def test_portal_and_access_point_units_are_enabled(estate: Estate) -> None:
    unit = _unit(estate, PORTAL, "digital-spaces-portal.service")
    assert unit["ExecStart"] == [
        f"{BIN}/digital-spaces portal --config /etc/digital-spaces/portal.toml"
    ]
    assert unit["User"] == ["digital-spaces"]
    assert unit["Restart"] == ["on-failure"]
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
