"""The one home for durable and secret file writes (devices/files.py), on real files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from devices.files import create_secret, write_atomic, write_secret


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_write_atomic_replaces_content_and_makes_the_folder(tmp_path: Path) -> None:
    path = tmp_path / "state" / "manifest.json"
    write_atomic(path, b"first")
    write_atomic(path, b"second")
    assert path.read_bytes() == b"second"
    assert leftovers(path.parent) == []


def test_a_failed_write_keeps_the_old_content_and_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "alerts.json"
    write_atomic(path, b"old")

    def power_cut(src: object, dst: object) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", power_cut)
    with pytest.raises(OSError, match="disk gone"):
        write_atomic(path, b"new")
    assert path.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


def test_a_write_that_fails_midway_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(fd: int) -> None:
        raise OSError("no space left")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="no space left"):
        write_atomic(tmp_path / "log.json", b"data")
    assert list(tmp_path.iterdir()) == []


def test_write_secret_is_owner_only_even_over_a_public_file(tmp_path: Path) -> None:
    path = tmp_path / "device.toml"
    path.write_text("old")
    path.chmod(0o644)
    write_secret(path, b"password = 'x'")
    assert path.read_bytes() == b"password = 'x'"
    assert mode(path) == 0o600
    assert leftovers(tmp_path) == []


def test_the_secret_is_never_on_disk_with_a_wider_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Look at the temporary file when it is complete, just before it takes the name.
    seen: list[int] = []
    real_replace = os.replace

    def spy(src: str | Path, dst: str | Path) -> None:
        seen.append(stat.S_IMODE(os.stat(src).st_mode))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    write_secret(tmp_path / "key.pem", b"secret")
    assert seen == [0o600]


def test_create_secret_publishes_a_complete_owner_only_file(tmp_path: Path) -> None:
    path = tmp_path / "instance" / "secret_key"
    create_secret(path, b"k1")
    assert path.read_bytes() == b"k1"
    assert mode(path) == 0o600
    assert leftovers(path.parent) == []


def test_create_secret_keeps_the_one_already_there(tmp_path: Path) -> None:
    path = tmp_path / "signing.pem"
    create_secret(path, b"theirs")
    with pytest.raises(FileExistsError):
        create_secret(path, b"ours")
    assert path.read_bytes() == b"theirs"
    assert leftovers(tmp_path) == []
