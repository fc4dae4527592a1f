"""The one way this project writes a file that must survive a power cut, and a secret file.

`write_atomic`: a temporary file beside the target, fsynced, renamed over it, then the
folder fsynced, so the file on disk is always the old content or the new, whenever power
goes. `write_secret` does the same with the temporary file created 0600, so a secret is
never readable by others, not even for an instant. `create_secret` publishes a secret
only if none is there yet, complete or not at all, for first-run keys that concurrent
processes may race to make.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PUBLIC_MODE = 0o644
SECRET_MODE = 0o600


def fsync_folder(path: Path) -> None:
    """Make a rename, creation or removal in this folder durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, *, mode: int = PUBLIC_MODE) -> None:
    """Replace `path` with `data`, all or nothing; creates the folder if need be."""
    temporary = _write_temporary(path, data, mode)
    try:
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)


def write_secret(path: Path, data: bytes) -> None:
    """`write_atomic` for a key, password or personal data: readable by its owner only."""
    write_atomic(path, data, mode=SECRET_MODE)


def create_secret(path: Path, data: bytes) -> None:
    """Write a new secret file; FileExistsError if there is one already (which is kept).

    Linked into place once complete, so a process that loses the race to create it
    never reads a half-written key.
    """
    temporary = _write_temporary(path, data, SECRET_MODE)
    try:
        os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    fsync_folder(path.parent)


def read_secret(path: Path) -> str:
    """A secret file's text; PermissionError if others may read it (it should be 0600)."""
    if path.stat().st_mode & 0o077:
        raise PermissionError(f"{path} is readable by others: chmod 600 it")
    return path.read_text(encoding="utf-8")


def _write_temporary(path: Path, data: bytes, mode: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    # Created with its final mode (the umask can only narrow it): no window with a wider one.
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
    return temporary
