"""The CMS's Ed25519 signing key: created on first run in the instance folder (0600)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from devices.protocol import SigningKey

log = logging.getLogger(__name__)


def load_or_create_signing_key(path: Path) -> SigningKey:
    if path.exists():
        return SigningKey.from_pem(path.read_bytes())
    key = SigningKey.generate()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another CMS process made it first: use theirs
        return SigningKey.from_pem(path.read_bytes())
    with os.fdopen(fd, "wb") as handle:
        handle.write(key.to_pem())
    log.info("created manifest signing key %s (key id %s)", path, key.public_key.key_id)
    return key
