"""Video on indoor screens, handed to mpv when it is installed.

Roadside panels never play video (a road-safety rule the planner enforces). On a Pi mpv
draws straight to DRM/KMS over the framebuffer console; the player shows black beneath it
so nothing stale is left when mpv exits.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import threading
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)


class VideoBackend(Protocol):
    def play(self, path: Path) -> None:
        """Start playing `path` full screen, muted, replacing whatever video plays."""
        ...

    def stop(self) -> None: ...


class MpvVideo:
    def __init__(self, executable: str = "mpv", extra_args: tuple[str, ...] = ()) -> None:
        self._executable = executable
        self._extra_args = extra_args
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    @staticmethod
    def available(executable: str = "mpv") -> bool:
        return shutil.which(executable) is not None

    def play(self, path: Path) -> None:
        with self._lock:
            self._stop_locked()
            self._process = subprocess.Popen(
                [
                    self._executable,
                    "--fs",
                    "--no-audio",
                    "--no-osc",
                    "--no-input-default-bindings",
                    "--really-quiet",
                    "--loop-file=inf",  # the planner decides when it ends
                    *self._extra_args,
                    str(path),
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            log.info("mpv %s started for %s", self._process.pid, path.name)

    def stop(self) -> None:
        with self._lock:
            self._stop_locked()

    def _stop_locked(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
