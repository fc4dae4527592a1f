"""openNDS's control socket, spoken directly (what the ``ndsctl`` program does for us).

``ndsctl`` costs ~60 ms a call here, most of it its own start-up (it runs pgrep and df),
and openNDS serves one control connection at a time: concurrent ``ndsctl`` calls fail
with exit 4 ("ndsctl thread is busy", openNDS issue 552; 9 of 10 failed when we tried).
So the node sends the same one-line requests itself, holding ndsctl's own lock file
(``ndsctl.lock`` beside the socket) so web workers, the session monitor and an operator's
``ndsctl`` take turns instead of colliding.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from pathlib import Path

from portal.admission import GatewayBusy, GatewayError


class NdsctlSocket:
    """One request, one answer, under the shared lock. Thread- and process-safe. The
    timeout is generous (openNDS may be busy with a row of authorisations); how long a
    visitor waits is bounded by `Admission`, not here."""

    def __init__(self, socket_path: Path, *, timeout_s: float = 30.0) -> None:
        self._socket_path = socket_path
        self._lock_path = socket_path.with_name("ndsctl.lock")
        self._timeout_s = timeout_s

    def __call__(self, request: str) -> str:
        deadline = time.monotonic() + self._timeout_s
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            while True:  # flock with a deadline: openNDS may be busy with an operator's call
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise GatewayError("ndsctl.lock held too long") from None
                    time.sleep(0.002)
            return self._exchange(request, deadline)
        finally:
            os.close(fd)  # releases the lock

    def _exchange(self, request: str, deadline: float) -> str:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(max(0.1, deadline - time.monotonic()))
                sock.connect(str(self._socket_path))
                sock.sendall(request.encode() + b"\r\n\r\n")
                chunks = []
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
        except OSError as error:
            # openNDS not answering (restarting, or fallen over under load) is a "tap
            # again in a moment" for the visitor, not a refusal.
            raise GatewayBusy(f"openNDS control socket {self._socket_path}: {error}") from None
        return b"".join(chunks).decode("utf-8", "replace")
