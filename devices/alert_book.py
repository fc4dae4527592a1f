"""The alerts a device holds: the latest verified message per scope, kept across reboots.

The CMS retains one alert per scope and stamps every message it sends on a scope with a
higher revision (devices/protocol/alerts.py). The book keeps the one latest by `order`,
so a replayed older message, retained or not, cannot undo a clear or an edit; it saves
the signed payloads as received, so they are verified again when read back.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from devices.protocol import ALL_SCOPE, Alert, ProtocolError, PublicKey, parse_signed
from devices.saved_messages import SavedMessages

# Logged as the agent, as before the book was its own module: what an operator filters
# the journal by does not change.
log = logging.getLogger("devices.agent")


class AlertBook:
    def __init__(
        self,
        saved: SavedMessages,
        trusted: Sequence[PublicKey],
        reject: Callable[[str, ProtocolError], None],
    ) -> None:
        self._saved = saved
        self._trusted = list(trusted)
        self._reject = reject
        self._lock = threading.Lock()
        self._alerts: dict[str, Alert] = {}
        self._payloads: dict[str, bytes] = {}

    def restore(self) -> None:
        """Take back the alerts saved before the restart (checked like new ones)."""
        for scope, payload in self._saved.load_alerts().items():
            self.accept(scope, payload, persist=False)

    def accept(self, scope: str, payload: bytes, *, persist: bool) -> bool:
        """Whether this signed message, received on `scope`, changed the book."""
        try:
            alert = parse_signed(Alert, payload, self._trusted)
            if alert.scope != scope:
                raise ProtocolError("scope", f"alert for {alert.scope} arrived on {scope}")
        except ProtocolError as error:
            self._reject(f"alerts/{scope}", error)
            return False
        with self._lock:
            known = self._alerts.get(scope)
            if known is not None and alert.order <= known.order:
                # The same message again (QoS 1, the retained copy after a restart) changes
                # nothing; an older one (a replay) must not undo a clear or an edit.
                if alert != known:
                    log.warning(
                        "ignoring alert %s revision %d on %s: not newer than revision %d of %s",
                        alert.id,
                        alert.revision,
                        scope,
                        known.revision,
                        known.id,
                    )
                return False
            self._alerts[scope] = alert
            self._payloads[scope] = payload
            payloads = dict(self._payloads)
        if persist:
            self._saved.save_alerts(payloads)
        log.info(
            "alert %s revision %d for %s: %s",
            alert.id,
            alert.revision,
            scope,
            "cleared" if alert.cleared else alert.title,
        )
        return True

    def for_site(self, site: str | None) -> list[Alert]:
        """The alerts for every device, and those for this site."""
        with self._lock:
            return [a for s, a in self._alerts.items() if s in (ALL_SCOPE, site)]
