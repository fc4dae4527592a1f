"""Files by sha256 under the instance folder, written atomically."""

from __future__ import annotations

from pathlib import Path

from central_cms.media import Encoded
from devices.files import write_atomic


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def put(self, encoded: Encoded) -> tuple[str, bool]:
        """Store the bytes; returns (sha256, whether this call created the file)."""
        sha = encoded.sha256
        target = self.path(sha)
        if target.exists():
            return sha, False
        write_atomic(target, encoded.data)
        return sha, True

    def delete(self, sha256: str) -> None:
        self.path(sha256).unlink(missing_ok=True)

    def read(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()

    def count(self) -> int:
        return sum(1 for p in self.root.rglob("*") if p.is_file() and not p.name.startswith("."))
