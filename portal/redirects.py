"""Where a visitor may be sent after accepting the terms. Pure: no I/O.

The only candidate is the URL openNDS intercepted the visitor on (``originurl`` in the FAS
query, carried to the accept form inside the signed state, never taken from a form field).
Even that is untrusted text: at FAS level 1 anyone can hand-craft a query, so it must be a
plain absolute http(s) URL to a well-formed host, or the visitor lands on the portal's own
"you're online" page instead.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse

MAX_URL_CHARS = 2048
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")


def _valid_host(host: str) -> bool:
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return False
        return True
    if re.fullmatch(r"[0-9.]+", host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return False
        return True
    labels = host.rstrip(".").split(".")
    return len(host) <= 253 and all(_LABEL.match(label) for label in labels)


def safe_redirect(candidate: str | None) -> str | None:
    """`candidate` rebuilt as a safe absolute http(s) URL, or None if it is not one.

    Refuses other schemes (``javascript:``, ``data:``), scheme-relative ``//host``, user
    info (``http://portal@evil``), backslashes and control characters raw or percent-encoded
    in the scheme and authority, and malformed hosts or ports.
    """
    if not candidate or len(candidate) > MAX_URL_CHARS:
        return None
    if _UNSAFE.search(candidate):
        return None
    try:
        parts = urllib.parse.urlsplit(candidate)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https"):
        return None
    netloc = parts.netloc
    if not netloc or "@" in netloc or "%" in netloc:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if not _valid_host(host) or port == 0:
        return None
    decoded_path = urllib.parse.unquote(parts.path)
    if decoded_path.startswith("//") or "\\" in decoded_path:
        return None
    authority = f"{host}:{port}" if port is not None else host
    return urllib.parse.urlunsplit(
        (parts.scheme.lower(), authority, parts.path or "/", parts.query, "")
    )
