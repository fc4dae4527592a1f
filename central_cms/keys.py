"""The CMS's Ed25519 signing key: created on first run in the instance folder (0600)."""

from __future__ import annotations

import logging
from pathlib import Path

from devices.files import create_secret
from devices.protocol import SigningKey

log = logging.getLogger(__name__)


def load_or_create_signing_key(path: Path) -> SigningKey:
    if path.exists():
        return SigningKey.from_pem(path.read_bytes())
    key = SigningKey.generate()
    try:
        create_secret(path, key.to_pem())
    except FileExistsError:  # another CMS process made it first: use theirs
        return SigningKey.from_pem(path.read_bytes())
    log.info("created manifest signing key %s (key id %s)", path, key.public_key.key_id)
    return key
