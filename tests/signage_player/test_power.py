"""The screen power implementations shell out as they would on a Pi: run here against
stand-in `cec-client` and `xset` scripts (no CEC adapter or X server on CI) that record
what they were asked, and one that fails."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

from signage_player.power import CecPower, DpmsPower


def stand_in(folder: Path, name: str, exit_code: int = 0) -> tuple[Path, Path]:
    """An executable that appends its arguments and stdin to a log, then exits."""
    log = folder / f"{name}.log"
    script = folder / name
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"with open({str(log)!r}, 'a') as out:\n"
        "    out.write(' '.join(sys.argv[1:]) + ' | ' + sys.stdin.read().strip() + '\\n')\n"
        f"sys.exit({exit_code})\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, log


def test_cec_sends_standby_then_on_to_the_tv(tmp_path: Path) -> None:
    script, log = stand_in(tmp_path, "cec-client")
    power = CecPower(str(script))
    assert power.set_power(False) and power.set_power(True)
    assert log.read_text().splitlines() == ["-s -d 1 | standby 0", "-s -d 1 | on 0"]


def test_dpms_forces_the_monitor_off_and_on(tmp_path: Path) -> None:
    script, log = stand_in(tmp_path, "xset")
    power = DpmsPower(str(script))
    assert power.set_power(False) and power.set_power(True)
    assert log.read_text().splitlines() == ["dpms force off | ", "dpms force on | "]


def test_a_failing_or_missing_tool_reports_false_and_the_player_goes_on(tmp_path: Path) -> None:
    script, _ = stand_in(tmp_path, "cec-client", exit_code=1)
    assert CecPower(str(script)).set_power(False) is False
    assert DpmsPower(str(tmp_path / "no-such-xset")).set_power(False) is False
    assert not DpmsPower.available(str(tmp_path / "no-such-xset"))
