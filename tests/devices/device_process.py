"""A real device process for kill tests: the agent with a recording device kind.

    python -m tests.devices.device_process --config device.toml --emit 300

records `--emit` proof-of-play events into the outbox at start, prints
`recorded N`, then runs until SIGTERM (or until a test kills it). Commands it runs and
reboots it is asked for are printed (`ran <command id>`, `rebooted`), so a test sees
them across restarts; the reboot is a fake that reboots nothing.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

from devices.agent import DeviceAgent
from devices.config import load_device_config
from devices.device_kind import AgentServices, CommandOutcome
from devices.protocol import Command, PlayData, PlayOutcome
from tests.devices.harness import RecordingApp


class EmittingApp(RecordingApp):
    def __init__(self, emit: int) -> None:
        super().__init__()
        self.emit = emit

    def start(self, services: AgentServices) -> None:
        super().start(services)
        now = datetime.now(UTC)
        for n in range(self.emit):
            services.record(
                PlayData(
                    item_id=f"item-{n}",
                    started_at=now,
                    ended_at=now,
                    shown_s=10,
                    scheduled_s=10,
                    outcome=PlayOutcome.COMPLETED,
                )
            )
        print(f"recorded {self.emit}", flush=True)

    def run_command(self, command: Command) -> CommandOutcome:
        print(f"ran {command.id}", flush=True)
        return super().run_command(command)


class PrintingSystem:
    """The reboot seam: tells the test instead of rebooting the machine."""

    def reboot(self) -> None:
        print("rebooted", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--emit", type=int, default=0)
    options = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    agent = DeviceAgent(
        load_device_config(options.config), EmittingApp(options.emit), system=PrintingSystem()
    )
    agent.start()
    if agent.link.connected.wait(30):
        print("connected", flush=True)
    threading.Event().wait()  # until killed
    return 0


if __name__ == "__main__":
    sys.exit(main())
