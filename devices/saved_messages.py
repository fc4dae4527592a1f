"""What a device keeps across reboots: the last good manifest and the current alerts,
stored as the signed payloads received, so they are verified again when read back."""

from __future__ import annotations

import json
from pathlib import Path

from devices.files import write_atomic


class SavedMessages:
    def __init__(self, folder: Path) -> None:
        self._manifest = folder / "manifest.json"
        self._alerts = folder / "alerts.json"

    def save_manifest(self, signed_payload: bytes) -> None:
        write_atomic(self._manifest, signed_payload)

    def load_manifest(self) -> bytes | None:
        try:
            return self._manifest.read_bytes()
        except FileNotFoundError:
            return None

    def save_alerts(self, signed_payloads: dict[str, bytes]) -> None:
        document = {scope: payload.decode("utf-8") for scope, payload in signed_payloads.items()}
        write_atomic(self._alerts, json.dumps(document).encode("utf-8"))

    def load_alerts(self) -> dict[str, bytes]:
        try:
            document = json.loads(self._alerts.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {}
        if not isinstance(document, dict):
            return {}
        return {str(k): str(v).encode("utf-8") for k, v in document.items()}
