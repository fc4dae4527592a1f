"""openNDS Forwarding Authentication Service (FAS) queries, levels 1 and 2. Pure: no I/O.

openNDS 9.10 sends an intercepted client to the FAS with

- level 1: ``?fas=base64("hid=H, clientip=.., clientmac=.., ..., originurl=.., clientif=..")``
- level 2: ``?fas=base64(base64(AES-256-CBC(same text)))&iv=IV``; the key is the faskey
  NUL-padded to 32 bytes and the IV is the 16 ASCII characters of ``iv`` (this is what the
  PHP ``openssl_encrypt`` call built into openNDS does).

Values inside the text are URL-encoded (``originurl=http%3a%2f%2f...``). The client's
browser completes authentication with ``GET http://<gatewayaddress>/<authdir>/?tok=T&redir=R``
where ``T = sha256hex(hid + faskey)``; ``hid`` itself is ``sha256hex(client token)``, which
lets the portal check a query against the token ``ndsctl status`` reports for that client.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

SUPPORTED_LEVELS = (1, 2)
MAX_QUERY_CHARS = 4096
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_IV = re.compile(r"^[0-9A-Za-z]{16}$")
_AUTHDIR = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_IFNAME = re.compile(r"^[A-Za-z0-9_.@-]{0,15}$")
_GATEWAY_ADDRESS = re.compile(r"^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$")


class FasError(ValueError):
    """The FAS query is missing, malformed or cannot be decrypted; `field` names the part."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


@dataclass(frozen=True)
class FasClient:
    """What openNDS told the portal about one intercepted client."""

    hid: str
    client_ip: str
    client_mac: str
    gateway_address: str  # "10.77.1.1:2050": where the browser completes authentication
    gateway_name: str
    origin_url: str  # raw, still to be validated by portal.redirects
    auth_dir: str = "opennds_auth"
    client_type: str = ""
    client_if: str = ""


def parse_query(query: Mapping[str, str], *, level: int, faskey: str) -> FasClient:
    """Decode the ``fas`` (and at level 2 ``iv``) query parameters into a FasClient."""
    if level not in SUPPORTED_LEVELS:
        raise FasError("level", f"FAS security level {level} is not supported (use 1 or 2)")
    fas = query.get("fas", "")
    if not fas:
        raise FasError("fas", "missing: open this page from the Wi-Fi network's sign-in")
    if len(fas) > MAX_QUERY_CHARS:
        raise FasError("fas", "too long")
    if level == 1:
        return parse_text(_b64(fas, "fas"))
    iv = query.get("iv", "")
    if not _IV.match(iv):
        raise FasError("iv", "missing or not 16 letters and digits")
    return parse_text(_decrypt(_b64(fas, "fas"), iv, faskey))


def _b64(value: str, field: str) -> bytes:
    try:
        return base64.b64decode(value.replace(" ", "+"), validate=True)
    except (binascii.Error, ValueError):
        raise FasError(field, "not valid base64") from None


def _aes_key(faskey: str) -> bytes:
    # PHP's openssl_encrypt pads a short key with NUL bytes and cuts a long one.
    return faskey.encode()[:32].ljust(32, b"\0")


def _decrypt(outer: bytes, iv: str, faskey: str) -> str:
    try:
        ciphertext = base64.b64decode(outer, validate=True)
        decryptor = Cipher(algorithms.AES(_aes_key(faskey)), modes.CBC(iv.encode())).decryptor()
        padded = decryptor.update(ciphertext) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        return (unpadder.update(padded) + unpadder.finalize()).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise FasError("fas", "cannot be decrypted with this node's faskey") from None


def _fields(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for part in text.split(", "):
        key, sep, value = part.partition("=")
        if sep and key.isidentifier() and key not in fields:
            fields[key] = urllib.parse.unquote(value)
    return fields


def _client_from_text(text: str) -> FasClient:
    fields = _fields(text)
    hid = fields.get("hid", "")
    if not _HEX64.match(hid):
        raise FasError("hid", "missing or not a sha256 hex digest")
    client_ip = fields.get("clientip", "")
    try:
        ipaddress.ip_address(client_ip)
    except ValueError:
        raise FasError("clientip", "missing or not an IP address") from None
    client_mac = fields.get("clientmac", "").lower()
    if not _MAC.match(client_mac):
        raise FasError("clientmac", "missing or not a MAC address")
    gateway_address = fields.get("gatewayaddress", "")
    match = _GATEWAY_ADDRESS.match(gateway_address)
    if not match or not 0 < int(match.group(2)) < 65536:
        raise FasError("gatewayaddress", "missing or not IPv4:port")
    try:
        ipaddress.IPv4Address(match.group(1))
    except ValueError:
        raise FasError("gatewayaddress", "not an IPv4 address") from None
    auth_dir = fields.get("authdir", "opennds_auth")
    if not _AUTHDIR.match(auth_dir):
        raise FasError("authdir", "unexpected characters")
    client_if = fields.get("clientif", "")
    return FasClient(
        hid=hid,
        client_ip=client_ip,
        client_mac=client_mac,
        gateway_address=gateway_address,
        gateway_name=fields.get("gatewayname", "")[:64],
        origin_url=fields.get("originurl", "")[:2048],
        auth_dir=auth_dir,
        client_type=fields.get("client_type", "")[:32],
        client_if=client_if if _IFNAME.match(client_if) else "",
    )


def parse_text(text: str | bytes) -> FasClient:
    """Parse the decoded FAS text (as openNDS builds it) into a FasClient."""
    if isinstance(text, bytes):
        try:
            text = text.decode()
        except UnicodeDecodeError:
            raise FasError("fas", "not text") from None
    return _client_from_text(text)


def hid_for_token(token: str) -> str:
    """openNDS's ``hid``: sha256 of the client's gateway token."""
    return hashlib.sha256(token.encode()).hexdigest()


def hid_matches_token(hid: str, token: str) -> bool:
    return hmac.compare_digest(hid_for_token(token), hid)


def auth_token(hid: str, faskey: str) -> str:
    """``tok`` for levels 1 and 2: sha256hex(hid + faskey)."""
    return hashlib.sha256((hid + faskey).encode()).hexdigest()


def auth_target(client: FasClient, faskey: str, redirect_url: str) -> str:
    """The URL the visitor's browser opens to complete authentication at the gateway."""
    query = urllib.parse.urlencode({"tok": auth_token(client.hid, faskey), "redir": redirect_url})
    return f"http://{client.gateway_address}/{client.auth_dir}/?{query}"


# --- building queries (the recording gateway for the demo, and tests) ---------------------


def client_text(client: FasClient) -> str:
    """The FAS text openNDS would send for this client."""
    quote = urllib.parse.quote
    parts = [
        f"hid={client.hid}",
        f"clientip={client.client_ip}",
        f"clientmac={client.client_mac}",
        f"client_type={client.client_type}",
        f"gatewayname={quote(client.gateway_name, safe='')}",
        f"gatewayaddress={client.gateway_address}",
        f"authdir={client.auth_dir}",
        f"originurl={quote(client.origin_url, safe='')}",
        f"clientif={client.client_if}",
    ]
    return ", ".join(parts)


def encode_query(client: FasClient, *, level: int, faskey: str, iv: str) -> dict[str, str]:
    """The query parameters openNDS would send at `level` (level 2 needs a 16-char `iv`)."""
    text = client_text(client).encode()
    if level == 1:
        return {"fas": base64.b64encode(text).decode()}
    if level != 2 or not _IV.match(iv):
        raise FasError("level", "level 2 needs a 16-character iv")
    padder = padding.PKCS7(128).padder()
    padded = padder.update(text) + padder.finalize()
    encryptor = Cipher(algorithms.AES(_aes_key(faskey)), modes.CBC(iv.encode())).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    inner = base64.b64encode(ciphertext)
    return {"fas": base64.b64encode(inner).decode(), "iv": iv}
