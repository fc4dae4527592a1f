"""Video (and the stills around it) through one long-lived mpv, driven over its JSON IPC.

Roadside panels never play video (a road-safety rule the planner enforces). On a Pi mpv
draws straight to DRM/KMS over the framebuffer console, decoding in hardware where the Pi
has a decoder (`--hwdec=auto-safe`: H.264 on the Pi 4, HEVC on the Pi 4 and 5; the CMS
refuses anything else, central_cms/video_probe.py). mpv is started once and kept: a new
process per clip costs a black screen while it opens the display (Anthias issues 2735,
293). The player hands it what comes next before the current item ends (`prepare`, an
`append` to mpv's playlist that `--prefetch-playlist` opens ahead), so a video ends into
the next item inside mpv: mpv moves on by itself at the video's last frame, and a still
is held (`--image-display-duration=inf`) until the player moves on. `--keep-open` holds a
video's last frame when nothing follows yet. Proof-of-play comes from mpv's own events:
an entry is on screen from its `playback-restart` (first frame) to its `end-file`.

When nothing plays (`stop`), mpv sits idle with no window and the player's own frame on
the framebuffer shows.
"""

from __future__ import annotations

import ctypes
import itertools
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from signage_player.mpv_ipc import MpvIpc, MpvIpcError

log = logging.getLogger(__name__)

# A video this close to its end is left to end by itself: mpv then hands over at its last
# frame, where the player's clock (which started a little before mpv's first frame) would
# cut the last frames off.
HAND_OVER_S = 0.5
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


class VideoBackend(Protocol):
    def start(self) -> None:
        """Start the player process now, so the first item is not late."""
        ...

    def watch(self, on_end: Callable[[], None]) -> None:
        """Call `on_end` (from another thread) whenever a video ends by itself."""
        ...

    def play(self, path: Path) -> int:
        """Show `path` (a video, or a still) full screen, muted, replacing whatever plays;
        at once when it is what was prepared. Returns the play's handle for `played`."""
        ...

    def prepare(self, path: Path) -> None:
        """`path` comes next: open it now so the change is instant."""
        ...

    def stop(self) -> None:
        """Show nothing: the player's own frame on the framebuffer shows again."""
        ...

    def rotate(self, degrees: int) -> None:
        """Turn what it shows clockwise by `degrees` (0, 90, 180, 270), as the panel is
        mounted: the turn `panel.to_panel` gives the player's own frames."""
        ...

    def played(self, handle: int, timeout_s: float) -> Played | None:
        """How play `handle` went once it has ended, waiting up to `timeout_s` for its end."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Played:
    """One playlist entry as mpv played it; times are time.monotonic() seconds."""

    handle: int  # mpv's playlist_entry_id
    path: Path
    first_frame_at: float | None  # playback-restart; None: it never showed a frame
    ended_at: float  # end-file
    reason: str  # mpv's end-file reason: eof, stop, error, quit, redirect

    @property
    def shown_s(self) -> float:
        return 0.0 if self.first_frame_at is None else max(0.0, self.ended_at - self.first_frame_at)


class PlayLog:
    """mpv's playback events in, plays out; pure (fed the events and their arrival times)."""

    def __init__(self) -> None:
        self.paths: dict[int, Path] = {}
        self.plays: list[Played] = []
        self.playing: int | None = None  # the entry between start-file and end-file
        self.first_frames: dict[int, float] = {}  # entry -> its first frame's time

    def feed(self, event: dict[str, object], at: float) -> None:
        name = event.get("event")
        entry = event.get("playlist_entry_id")
        if name == "start-file" and isinstance(entry, int):
            self.playing = entry
        elif name == "playback-restart" and self.playing is not None:
            self.first_frames.setdefault(self.playing, at)  # later ones are seeks
        elif name == "end-file" and isinstance(entry, int):
            if self.playing == entry:
                self.playing = None
            path = self.paths.get(entry)
            if path is not None:
                first = self.first_frames.get(entry)
                self.plays.append(Played(entry, path, first, at, str(event.get("reason", ""))))


def _die_with_parent() -> None:
    """In the child before exec: a player killed outright (SIGKILL, OOM) must not leave its
    mpv holding the screen; the kernel sends mpv SIGTERM when the player's thread ends."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def handover_gaps_s(plays: Sequence[Played]) -> list[float]:
    """For each hand-over (an entry that ended straight into the next one's first frame),
    the time from the one's last frame to the next one's first."""
    return [
        after.first_frame_at - before.ended_at
        for before, after in itertools.pairwise(plays)
        if after.first_frame_at is not None
        and before.first_frame_at is not None
        and before.reason in ("eof", "stop")
    ]


class MpvVideo:
    def __init__(
        self,
        executable: str = "mpv",
        extra_args: tuple[str, ...] = (),
        *,
        hwdec: str = "auto-safe",
        hand_over_s: float = HAND_OVER_S,
    ) -> None:
        self._executable = executable
        self._hwdec = hwdec
        self._extra_args = extra_args
        self._hand_over_s = hand_over_s
        self._lock = threading.Lock()  # one command sequence at a time
        self._changed = threading.Condition()  # guards the log; notified on every event
        self._log = PlayLog()
        self._next: tuple[int, Path] | None = None  # the prepared entry
        self._process: subprocess.Popen[bytes] | None = None
        self._ipc: MpvIpc | None = None
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self.pids: list[int] = []  # every mpv this started: one, unless one died
        self._on_end: Callable[[], None] | None = None
        self._ended_by_itself = False  # the last end-file was a video's end
        self._rotation = 0  # mpv's video-rotate: the screen's mounting (issue 18)

    @staticmethod
    def available(executable: str = "mpv") -> bool:
        return shutil.which(executable) is not None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        with self._lock:
            self._running()

    # --- VideoBackend ------------------------------------------------------------------

    def watch(self, on_end: Callable[[], None]) -> None:
        self._on_end = on_end

    def play(self, path: Path) -> int:
        with self._lock:
            ipc = self._running()
            prepared, self._next = self._next, None
            with self._changed:
                if prepared is not None and self._moving_on():
                    # A video just ended into the prepared entry: mpv is starting it.
                    self._changed.wait_for(lambda: self._log.playing is not None, 1.0)
                playing = self._log.playing
            if prepared is not None and prepared[1] == path and playing is not None:
                handle = prepared[0]
                if playing != handle and not self._ends_by_itself(ipc):
                    ipc.command("playlist-next", "force")
                return handle
            return self._load(ipc, path, "replace")

    def prepare(self, path: Path) -> None:
        with self._lock:
            if self._next is not None and self._next[1] == path:
                return
            ipc = self._running()
            ipc.command("playlist-clear")  # everything but what plays now
            self._next = (self._load(ipc, path, "append"), path)

    def stop(self) -> None:
        with self._lock:
            self._next = None
            if self._ipc is not None and self._alive():
                try:
                    self._ipc.command("stop")
                except MpvIpcError as error:
                    log.warning("mpv %s would not stop: %s", self.pid, error)

    def rotate(self, degrees: int) -> None:
        with self._lock:
            if degrees == self._rotation:
                return
            self._rotation = degrees
            if self._ipc is not None and self._alive():
                try:
                    self._ipc.command("set_property", "video-rotate", degrees)
                except MpvIpcError as error:  # a new mpv starts with it (_running)
                    log.warning("mpv %s would not rotate: %s", self.pid, error)

    def rotation(self) -> int:
        """What mpv itself says its video-rotate is (for tests and the bench)."""
        with self._lock:
            value = self._running().command("get_property", "video-rotate")
        return int(value) if isinstance(value, int | float | str) else 0

    def played(self, handle: int, timeout_s: float) -> Played | None:
        def found() -> Played | None:
            return next((p for p in reversed(self._log.plays) if p.handle == handle), None)

        with self._changed:
            self._changed.wait_for(lambda: found() is not None or not self._alive(), timeout_s)
            return found()

    def first_frame(self, handle: int, timeout_s: float) -> float | None:
        """When play `handle` showed its first frame, waiting up to `timeout_s` for it."""
        with self._changed:
            self._changed.wait_for(
                lambda: handle in self._log.first_frames or not self._alive(), timeout_s
            )
            return self._log.first_frames.get(handle)

    def plays(self) -> list[Played]:
        with self._changed:
            return list(self._log.plays)

    def close(self) -> None:
        with self._lock:
            self._next = None
            self._shut_down()

    # --- the process -------------------------------------------------------------------

    def _running(self) -> MpvIpc:
        """The IPC of a running mpv, starting one if there is none (or it died)."""
        if self._ipc is not None and self._alive():
            return self._ipc
        if self._process is not None:
            log.warning("mpv %s exited (%s); starting another", self.pid, self._process.poll())
            self._shut_down()
        self._folder = tempfile.TemporaryDirectory(prefix="ds-mpv-")
        socket_path = Path(self._folder.name) / "ipc.sock"
        self._process = subprocess.Popen(
            [
                self._executable,
                "--idle=yes",  # stays up between items and after `stop`
                f"--input-ipc-server={socket_path}",
                f"--hwdec={self._hwdec}",
                "--fs",
                "--no-audio",
                "--no-osc",
                "--osd-level=0",
                "--no-input-default-bindings",
                "--no-input-terminal",
                "--really-quiet",
                "--keep-open=yes",
                "--image-display-duration=inf",
                "--prefetch-playlist=yes",
                f"--video-rotate={self._rotation}",
                *self._extra_args,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        self.pids.append(self._process.pid)
        with self._changed:
            self._log = PlayLog()
        try:
            self._ipc = MpvIpc.connect(socket_path, self._on_event)
        except MpvIpcError:
            self._shut_down()
            raise
        log.info("mpv %s started", self._process.pid)
        return self._ipc

    def _moving_on(self) -> bool:
        """Between a video's end and mpv's start of the next entry (under `_changed`)."""
        plays = self._log.plays
        return self._log.playing is None and bool(plays) and plays[-1].reason == "eof"

    def _alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _on_event(self, event: dict[str, object], at: float) -> None:
        name = event.get("event")
        with self._changed:
            self._log.feed(event, at)
            self._changed.notify_all()
        if name == "end-file":
            self._ended_by_itself = event.get("reason") == "eof"
        elif name in ("start-file", "idle") and self._ended_by_itself:
            # Told once mpv has moved on, so the player finds the next entry playing.
            self._ended_by_itself = False
            if self._on_end is not None:
                self._on_end()

    def _load(self, ipc: MpvIpc, path: Path, mode: str) -> int:
        reply = ipc.command("loadfile", str(path), mode)
        handle = reply.get("playlist_entry_id") if isinstance(reply, dict) else None
        if not isinstance(handle, int):
            raise MpvIpcError(f"mpv gave no playlist entry for {path.name}: {reply!r}")
        with self._changed:
            self._log.paths[handle] = path
        return handle

    def _ends_by_itself(self, ipc: MpvIpc) -> bool:
        """The video on screen ends within HAND_OVER_S, and mpv will move on by itself."""
        try:
            if ipc.command("get_property", "current-tracks/video/image") is not False:
                return False
            if ipc.command("get_property", "eof-reached") is not False:
                return False  # held on its last frame: it waits for us
            remaining = ipc.command("get_property", "time-remaining")
        except MpvIpcError:
            return False  # nothing we can ask about (no video track, say)
        return isinstance(remaining, int | float) and 0 <= remaining < self._hand_over_s

    def _shut_down(self) -> None:
        ipc, self._ipc = self._ipc, None
        if ipc is not None:
            ipc.close()
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None
        with self._changed:
            self._changed.notify_all()
