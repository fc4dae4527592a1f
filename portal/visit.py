"""One visit to the splash, and the signed state that carries it through the accept form.

openNDS hands the splash an encrypted FAS query naming the client; the page carries what
the accept needs in one signed form field (no cookies, #6), so POST /accept trusts only
what this node signed. Pure apart from the per-instance cache of decrypted queries.
"""

from __future__ import annotations

import functools
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from portal.config import PortalConfig
from portal.fas import MAX_QUERY_CHARS, FasClient, FasError, parse_query
from portal.redirects import safe_redirect
from portal.signing import Signer

ACCEPT_PURPOSE = "accept"


@dataclass(frozen=True)
class Visit:
    """What one FAS query tells the splash: the client, where it may be sent back to, the
    CSP form targets and the query to carry in the page's links."""

    client: FasClient
    origin: str | None
    form_targets: tuple[str, ...]
    query: str


def origin_of(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def form_targets(client: FasClient, origin: str | None) -> tuple[str, ...]:
    # CSP form-action also governs the redirects after the form is sent: to the
    # gateway's auth URL, then to the page the visitor was intercepted on.
    targets = [f"http://{client.gateway_address}"]
    if origin:
        targets.append(origin_of(origin))
    return tuple(dict.fromkeys(targets))


def sign_visit(
    signer: Signer,
    client: FasClient,
    origin: str | None,
    terms_version: str,
    now: datetime,
    nonce: str,
) -> str:
    """The accept form's state: the client, its origin, the terms shown, when, and a
    nonce that makes the form usable once."""
    return signer.sign(
        ACCEPT_PURPOSE,
        {
            "h": client.hid,
            "ip": client.client_ip,
            "m": client.client_mac,
            "g": client.gateway_address,
            "d": client.auth_dir,
            "n": client.gateway_name,
            "o": origin or "",
            "v": terms_version,
            "t": int(now.timestamp()),
            "x": nonce,
        },
    )


def client_from_state(state: Mapping[str, str]) -> FasClient:
    """The client a verified state names; KeyError when a field it needs is missing."""
    return FasClient(
        hid=state["h"],
        client_ip=state["ip"],
        client_mac=state["m"],
        gateway_address=state["g"],
        gateway_name=state.get("n", ""),
        origin_url=state.get("o", ""),
        auth_dir=state.get("d", "opennds_auth"),
    )


class Visits:
    """Reads the visit in a splash request's query, for this node's FAS key and gateways."""

    def __init__(self, config: PortalConfig) -> None:
        self._config = config
        self._decoded = functools.lru_cache(maxsize=512)(self._decode)

    def _decode(self, fas: str, iv: str | None) -> Visit:
        """Decrypt and check a FAS query once: the OS probe, the mini-browser and reloads
        repeat the same query, and AES plus the field checks are the splash's dearest step.
        A query that fails raises FasError and is not cached."""
        config = self._config
        query = {"fas": fas} if iv is None else {"fas": fas, "iv": iv}
        client = parse_query(query, level=config.fas_level, faskey=config.faskey)
        if config.gateway_addresses and client.gateway_address not in config.gateway_addresses:
            raise FasError("gatewayaddress", "not this node's gateway")
        origin = safe_redirect(client.origin_url)
        return Visit(client, origin, form_targets(client, origin), urllib.parse.urlencode(query))

    def visit_in(self, args: Mapping[str, str]) -> Visit | None:
        """The FAS query in `args`, or None when the visitor came without one."""
        fas = args.get("fas")
        if fas is None:
            return None
        if len(fas) > MAX_QUERY_CHARS:
            raise FasError("fas", "too long")
        return self._decoded(fas, args.get("iv"))
