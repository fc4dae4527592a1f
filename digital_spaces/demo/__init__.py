"""`digital-spaces demo`: the whole system on one machine with embedded defaults.

Starts an MQTT broker (the system's Mosquitto if installed, else an in-process one), the
CMS on SQLite with its ingest and the SQLite analytics store, signage players on the
headless display (indoor screens and a roadside LED panel at different sites) and a
portal node with the recording gateway; seeds the first city on the first run. Data
lives in one folder that a second run reuses; --fresh starts over. Ctrl-C stops it.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from digital_spaces.demo.stack import DemoOptions, staff_logins, start_stack

log = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="digital-spaces demo", description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=Path("demo-data"))
    parser.add_argument("--fresh", action="store_true", help="delete the data folder first")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--cms-port", type=int, default=8000)
    parser.add_argument("--portal-port", type=int, default=8080)
    options = parser.parse_args(argv)
    # The parts log their state changes; the demo's own progress lines are what people read.
    for name in ("", "werkzeug", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)

    began = time.monotonic()
    step = 0

    def progress(message: str) -> None:
        nonlocal step
        step += 1
        print(f"[{time.monotonic() - began:5.1f}s] {message}", flush=True)

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        stack = start_stack(
            DemoOptions(
                data_dir=options.data_dir,
                fresh=options.fresh,
                host=options.host,
                cms_port=options.cms_port,
                portal_port=options.portal_port,
            ),
            progress,
        )
    except OSError as error:
        print(f"cannot start the demo: {error}", file=sys.stderr)
        return 1
    print()
    print(f"Digital Spaces demo is running (data in {options.data_dir.resolve()})")
    print(f"  CMS (staff):            {stack.cms_url}/")
    print(f"  Live screens:           {stack.cms_url}/screens")
    print(f"  Device health (IT):     {stack.cms_url}/analytics/fleet")
    print(f"  Wi-Fi splash (visitor): {stack.visitor_url}")
    print("  Staff logins (password for all):")
    for username, role, password in staff_logins():
        print(f"    {username:16} {role:9} {password}")
    print("Press Ctrl-C to stop.")
    stop.wait()
    print("stopping...", flush=True)
    stack.stop()
    print("stopped.")
    return 0
