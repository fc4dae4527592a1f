"""The analytics SQLite file under a web server that starts a thread per request."""

from __future__ import annotations

import os
import threading

from central_cms.analytics.sqlite_file import SqliteFile


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_connections_of_ended_request_threads_are_closed(tmp_path):
    """Each request thread gets its own connection; once the thread has ended its
    connection must not keep file descriptors open (past 1024, select() in the MQTT
    client fails and the CMS stops publishing)."""
    db = SqliteFile(tmp_path / "analytics.sqlite3")
    before = _open_fds()

    def request() -> None:
        db.conn().execute("SELECT 1").fetchone()

    for _ in range(200):
        thread = threading.Thread(target=request)
        thread.start()
        thread.join(10)
    request()  # one more from this thread sweeps what the ended ones left

    assert db.open_connections <= 2
    assert _open_fds() - before < 20
    db.close()
