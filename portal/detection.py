"""Answers to the operating systems' captive-portal probes, and the RFC 8908 API. Pure.

Before authorisation every probe gets a redirect to the portal (the OS then opens its
captive-portal mini-browser); after authorisation each gets exactly the answer its OS
expects for "online", so the mini-browser closes and the phone keeps the network.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum


class Probe(StrEnum):
    APPLE = "apple"  # captive.apple.com/hotspot-detect.html, /library/test/success.html
    ANDROID = "android"  # connectivitycheck.gstatic.com/generate_204
    WINDOWS = "windows"  # www.msftconnecttest.com/connecttest.txt
    WINDOWS_NCSI = "windows-ncsi"  # www.msftncsi.com/ncsi.txt
    FIREFOX = "firefox"  # detectportal.firefox.com/success.txt
    FIREFOX_CANONICAL = "firefox-canonical"  # detectportal.firefox.com/canonical.html


PROBE_PATHS: dict[str, Probe] = {
    "/hotspot-detect.html": Probe.APPLE,
    "/library/test/success.html": Probe.APPLE,
    "/generate_204": Probe.ANDROID,
    "/gen_204": Probe.ANDROID,
    "/connecttest.txt": Probe.WINDOWS,
    "/ncsi.txt": Probe.WINDOWS_NCSI,
    "/success.txt": Probe.FIREFOX,
    "/canonical.html": Probe.FIREFOX_CANONICAL,
}

_APPLE_SUCCESS = "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>"
_FIREFOX_CANONICAL = (
    '<meta http-equiv="refresh" content="0;url=https://support.mozilla.org/kb/captive-portal"/>'
)
_ONLINE: dict[Probe, tuple[int, str, str]] = {
    Probe.APPLE: (200, "text/html", _APPLE_SUCCESS),
    Probe.ANDROID: (204, "text/plain", ""),
    Probe.WINDOWS: (200, "text/plain", "Microsoft Connect Test"),
    Probe.WINDOWS_NCSI: (200, "text/plain", "Microsoft NCSI"),
    Probe.FIREFOX: (200, "text/plain", "success\n"),
    Probe.FIREFOX_CANONICAL: (200, "text/html", _FIREFOX_CANONICAL),
}
_NO_STORE = (("Cache-Control", "no-store"),)

CAPTIVE_JSON = "application/captive+json"


@dataclass(frozen=True)
class ProbeAnswer:
    status: int
    body: str
    headers: tuple[tuple[str, str], ...] = field(default=())


def probe_answer(probe: Probe, *, authorised: bool, portal_url: str) -> ProbeAnswer:
    """What to send back to `probe` for a client that is (or is not yet) authorised."""
    if authorised:
        status, content_type, body = _ONLINE[probe]
        return ProbeAnswer(status, body, (("Content-Type", content_type), *_NO_STORE))
    # A redirect (not a 200 with other content) is what every OS above treats as captive.
    return ProbeAnswer(
        302,
        "",
        (("Location", portal_url), ("Content-Type", "text/plain"), *_NO_STORE),
    )


def captive_api(
    *,
    authorised: bool,
    portal_url: str,
    venue_info_url: str | None,
    seconds_remaining: int | None,
) -> str:
    """The RFC 8908 Captive Portal API JSON document."""
    document: dict[str, object] = {"captive": not authorised, "user-portal-url": portal_url}
    if venue_info_url:
        document["venue-info-url"] = venue_info_url
    if authorised and seconds_remaining is not None:
        document["seconds-remaining"] = max(0, seconds_remaining)
        document["can-extend-session"] = False
    return json.dumps(document, separators=(",", ":"))
