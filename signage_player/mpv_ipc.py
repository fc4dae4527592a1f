"""mpv's JSON IPC (`--input-ipc-server`): one Unix socket, newline-delimited JSON.

We send `{"command": [...], "request_id": n}` and mpv answers `{"request_id": n, "error":
"success", "data": ...}`; in between it sends events (`{"event": "start-file", ...}`)
whenever they happen. One reader thread parses every line, hands events (with the
monotonic time they arrived) to a callback and wakes the caller waiting for its reply.
See https://mpv.io/manual/stable/#json-ipc.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

log = logging.getLogger(__name__)

# An event as mpv sent it ("event" names it), and the time.monotonic() it arrived.
EventHandler = Callable[[dict[str, object], float], None]


class MpvIpcError(Exception):
    """mpv refused a command, stopped answering, or went away."""


class MpvIpc:
    def __init__(self, sock: socket.socket, on_event: EventHandler) -> None:
        self._sock = sock
        self._on_event = on_event
        self._send_lock = threading.Lock()
        self._replies: dict[int, dict[str, object]] = {}
        self._answered = threading.Condition()
        self._next_id = 1
        self._closed = False
        self._reader = threading.Thread(target=self._read, name="mpv-ipc", daemon=True)
        self._reader.start()

    @classmethod
    def connect(cls, path: Path, on_event: EventHandler, *, timeout_s: float = 30.0) -> MpvIpc:
        """Connect once mpv has made its socket (it does so shortly after starting; a cold
        start on a busy machine took over 10 s in a clean-clone CI run)."""
        deadline = time.monotonic() + timeout_s
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(str(path))
                return cls(sock, on_event)
            except (FileNotFoundError, ConnectionRefusedError):
                sock.close()
                if time.monotonic() >= deadline:
                    raise MpvIpcError(
                        f"mpv made no IPC socket at {path} in {timeout_s:g} s"
                    ) from None
                # Polling a socket mpv has not made yet: nothing to wait on but time.
                threading.Event().wait(0.01)

    def command(self, *args: object, timeout_s: float = 5.0) -> object:
        """Run one mpv command and return its `data`; MpvIpcError if mpv says no."""
        with self._send_lock:
            request_id = self._next_id
            self._next_id += 1
            line = json.dumps({"command": list(args), "request_id": request_id}) + "\n"
            try:
                self._sock.sendall(line.encode())
            except OSError as error:
                raise MpvIpcError(f"mpv is gone ({error})") from None
        with self._answered:
            if not self._answered.wait_for(
                lambda: request_id in self._replies or self._closed, timeout_s
            ):
                raise MpvIpcError(f"mpv did not answer {args[0]!r} in {timeout_s:g} s")
            reply = self._replies.pop(request_id, None)
        if reply is None:
            raise MpvIpcError("mpv closed its IPC socket")
        if reply.get("error") != "success":
            raise MpvIpcError(f"mpv refused {args!r}: {reply.get('error')}")
        return reply.get("data")

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._reader.join(timeout=5)

    def _read(self) -> None:
        buffer = b""
        try:
            while True:
                chunk = self._sock.recv(65536)
                if not chunk:
                    break
                arrived = time.monotonic()
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    self._dispatch(line, arrived)
        except OSError:
            pass  # closed under us by close(), or mpv died
        finally:
            with self._answered:
                self._closed = True
                self._answered.notify_all()

    def _dispatch(self, line: bytes, arrived: float) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            log.warning("mpv sent a line that is not JSON: %.80r", line)
            return
        if not isinstance(message, dict):
            return
        message = cast(dict[str, object], message)
        if "event" in message:
            try:
                self._on_event(message, arrived)
            except Exception:
                log.exception("handling mpv event %s failed", message.get("event"))
        elif isinstance(message.get("request_id"), int):
            with self._answered:
                self._replies[cast(int, message["request_id"])] = message
                self._answered.notify_all()
