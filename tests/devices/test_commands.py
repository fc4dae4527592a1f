"""The device's record of the commands it took (issue 13.6): kept on disk, bounded."""

from __future__ import annotations

import json
from datetime import timedelta

from devices.commands import CommandLog
from devices.protocol import Command, CommandName
from testkit.messages import T0


def command(command_id: str, name: CommandName = CommandName.IDENTIFY, issued_min: int = 0):
    issued_at = T0 + timedelta(minutes=issued_min)
    return Command(
        id=command_id,
        device_id="sig-a",
        name=name,
        issued_at=issued_at,
        expires_at=issued_at + timedelta(minutes=5),
    )


def test_a_command_is_taken_once_even_by_a_log_opened_after_a_restart(tmp_path):
    path = tmp_path / "state" / "commands.json"
    log = CommandLog(path)
    assert log.first_time(command("a"), T0)
    assert not log.first_time(command("a"), T0)
    assert not CommandLog(path).first_time(command("a"), T0 + timedelta(minutes=1))


def test_the_log_stays_bounded_and_forgets_ids_long_expired(tmp_path):
    path = tmp_path / "commands.json"
    log = CommandLog(path, keep_after_expiry=timedelta(days=1), max_remembered=50)
    for n in range(200):
        log.first_time(command(f"c{n}", issued_min=n), T0)
    assert len(json.loads(path.read_text())["seen"]) == 50
    assert not log.first_time(command("c199", issued_min=199), T0)  # the latest are kept
    log.first_time(command("late", issued_min=2 * 24 * 60), T0 + timedelta(days=2))
    assert list(json.loads(path.read_text())["seen"]) == ["late"]


def test_a_reboot_runs_only_if_issued_after_the_last_one_however_much_was_forgotten(tmp_path):
    path = tmp_path / "commands.json"
    log = CommandLog(path, max_remembered=1)
    assert log.reboot_refusal(command("r1", CommandName.REBOOT, issued_min=10)) is None
    for n in range(5):  # pushes r1 out of the seen ids
        log.first_time(command(f"c{n}"), T0)
    again = CommandLog(path, max_remembered=1)
    assert again.first_time(command("r1", CommandName.REBOOT, issued_min=10), T0)
    assert "not after the last reboot" in (
        again.reboot_refusal(command("r1", CommandName.REBOOT, issued_min=10)) or ""
    )
    assert again.reboot_refusal(command("r0", CommandName.REBOOT, issued_min=9)) is not None
    assert again.reboot_refusal(command("r2", CommandName.REBOOT, issued_min=11)) is None
