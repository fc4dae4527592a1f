"""Which commands a device has taken already, kept across restarts (issue 13.6).

A command can come back after the device restarts: a QoS 1 redelivery, a retained copy,
or a signed command an attacker recorded and replays. Its signature is still good until
it expires, so the device remembers every command id it took, with its expiry, in its
state folder, and writes that down before the command runs: a `reboot` cannot run again
after the reboot it caused.

Entries are kept a while past their expiry, because a Pi has no real-time clock and may
start with its clock behind; beyond the cap the soonest to expire go first. A reboot
has its own rule that no cap or clock can undo: the device reboots only for a command
issued after the last reboot it ran (both instants are the CMS's clock).

Commands issued before the device's last start are not refused in general: a command
sent while the device was offline is delivered on reconnect and should still run, and
the CMS's and the device's clocks need not agree.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime, timedelta
from pathlib import Path

from devices.files import write_atomic
from devices.protocol import Command, CommandName

log = logging.getLogger(__name__)

KEEP_AFTER_EXPIRY = timedelta(days=2)
MAX_REMEMBERED = 1000


class CommandLog:
    def __init__(
        self,
        path: Path,
        *,
        keep_after_expiry: timedelta = KEEP_AFTER_EXPIRY,
        max_remembered: int = MAX_REMEMBERED,
    ) -> None:
        self._path = path
        self._keep = keep_after_expiry
        self._max = max_remembered
        self._lock = threading.Lock()
        self._seen: dict[str, datetime] = {}
        self._last_reboot_issued_at: datetime | None = None
        self._load()

    def _load(self) -> None:
        try:
            document = json.loads(self._path.read_text(encoding="utf-8"))
            self._seen = {
                str(id_): datetime.fromisoformat(at) for id_, at in document["seen"].items()
            }
            last = document.get("last_reboot_issued_at")
            self._last_reboot_issued_at = datetime.fromisoformat(last) if last else None
        except FileNotFoundError:
            return
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            # Written atomically, so only a hand edit gets here; start afresh, loudly.
            log.error("ignoring unreadable %s (%s): replayed commands may run", self._path, error)
            self._seen, self._last_reboot_issued_at = {}, None

    def _save(self) -> None:
        document = {
            "seen": {id_: at.isoformat() for id_, at in self._seen.items()},
            "last_reboot_issued_at": (
                self._last_reboot_issued_at.isoformat() if self._last_reboot_issued_at else None
            ),
        }
        write_atomic(self._path, json.dumps(document).encode("utf-8"))

    def first_time(self, command: Command, now: datetime) -> bool:
        """Whether this command id is new; if so it is remembered durably before this
        returns, so run it only after."""
        with self._lock:
            if command.id in self._seen:
                return False
            self._seen[command.id] = command.expires_at
            self._forget_old(now)
            self._save()
            return True

    def _forget_old(self, now: datetime) -> None:
        for id_, expires_at in list(self._seen.items()):
            if expires_at + self._keep < now:
                del self._seen[id_]
        if len(self._seen) > self._max:
            soonest = sorted(self._seen, key=self._seen.__getitem__)
            for id_ in soonest[: len(self._seen) - self._max]:
                del self._seen[id_]

    def reboot_refusal(self, command: Command) -> str | None:
        """Why this reboot must not run, or None; when None, the reboot is recorded as
        done (durably) before this returns, so the next one must be issued later."""
        if command.name is not CommandName.REBOOT:
            raise ValueError(f"reboot_refusal takes a reboot command, not {command.name.value}")
        with self._lock:
            last = self._last_reboot_issued_at
            if last is not None and command.issued_at <= last:
                return (
                    f"not rebooting: issued at {command.issued_at.isoformat()}, "
                    f"not after the last reboot's {last.isoformat()}"
                )
            self._last_reboot_issued_at = command.issued_at
            self._save()
            return None
