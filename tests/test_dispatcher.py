"""The `digital-spaces` command on a Pi: a device's subcommands never load the CMS."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Runs a subcommand as the console script would, then reports which top-level packages
# it loaded. A fresh interpreter, so nothing this test process imported can leak in.
PROBE = """
import contextlib, io, json, sys
from digital_spaces.cli import main
with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()) as out:
    main(sys.argv[1:])
loaded = sorted({name.split(".")[0] for name in sys.modules})
print(json.dumps({"help": out.getvalue(), "loaded": loaded}))
"""


@pytest.mark.parametrize(
    ("command", "says"),
    [
        (["player", "--help"], "--config"),
        (["portal", "--help"], "--config"),
        (["broker", "config", "--help"], "--password-file"),
        (["protocol", "--help"], "export-schemas"),
    ],
)
def test_a_device_subcommand_runs_without_loading_the_cms(command, says):
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *command], capture_output=True, text=True, check=True
    )
    report = json.loads(done.stdout)
    assert says in report["help"]
    assert "central_cms" not in report["loaded"]
    assert "sqlalchemy" not in report["loaded"]


def test_the_demo_subcommand_is_listed_and_loads_the_whole_system():
    done = subprocess.run(
        [sys.executable, "-c", PROBE, "demo", "--help"], capture_output=True, text=True, check=True
    )
    report = json.loads(done.stdout)
    assert "--data-dir" in report["help"]
    assert {"central_cms", "portal", "signage_player"} <= set(report["loaded"])
