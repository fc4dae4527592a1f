"""Promotions' links (issue 14): the city's allow-list of destinations, and short tracked
links drawn as QR codes on screens. Pure: no database, request or clock.

* `LinkPolicy` says whether a destination is one the city names (`link_destinations`):
  checked when staff save an item and again at every redirect, so shrinking the list
  stops old codes from sending anyone to a site the city no longer vouches for.
* `ShortLinker` gives each (campaign item, screen) a code: an HMAC of the two ids under
  the CMS's `link_secret`, so it is unguessable and the same at every recompile (a code
  photographed yesterday still works). The CMS stores each code it issues with the
  campaign, site and screen (central_cms/link_tracking.py), which is what /l/<code> reads.
* `tracked_links` is the compiler's one call: indoor screens' items with a link get a
  `qr` with their short link. Portal splashes keep `link_url` as it is: the portal counts
  promotion clicks itself, and a visitor not yet through the captive portal may not
  reach the CMS. Roadside screens never get a code (a driver must not scan).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, urlsplit

from devices.protocol import ContentItem, Manifest, ProfileKind
from devices.protocol.layouts import QrCode

if TYPE_CHECKING:
    from central_cms.config import CmsConfig

CODE_LENGTH = 12  # base32: 60 bits, far beyond guessing at any rate /l/ allows
CODE_PATTERN = re.compile(r"^[a-z2-7]{12}$")
_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"
_PAIRS = tuple(a + b for a in _BASE32 for b in _BASE32)
_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")


def destination_problem(entry: str) -> str | None:
    """What is wrong with one `link_destinations` entry, or None."""
    if entry.startswith(("https://", "http://")):
        parts = _split(entry)
        if parts is None or not parts.hostname or not _HOST.match(parts.hostname) or parts.username:
            return "is not a URL prefix"
        return None
    if not _HOST.match(entry.lower().removeprefix("*.")):
        return "is not a host name"
    return None


@dataclass(frozen=True)
class LinkPolicy:
    destinations: tuple[str, ...]
    allow_http: bool = False

    def refusal(self, url: str) -> str | None:
        """Why `url` may not be a promotion's destination, worded as the fix; None if it may."""
        if any(ch.isspace() or ord(ch) < 32 or ch == "\\" for ch in url):
            return "a link may not contain spaces or backslashes"
        parts = _split(url)
        if parts is None or parts.scheme not in ("https", "http") or not parts.hostname:
            return "write the whole address, starting with https://"
        if parts.scheme == "http" and not self.allow_http:
            return (
                f"links must be secure (https): write https://{url[len('http://') :]} "
                "(if the site has no https yet, ask IT)"
            )
        if parts.username or parts.password:
            return "a link may not contain a user name or password"
        if not self._listed(parts):
            allowed = ", ".join(self.destinations) or "none yet"
            return (
                f"{parts.hostname} is not one of the city's approved destinations "
                f"({allowed}); ask IT to add it to link_destinations"
            )
        return None

    def allows(self, url: str) -> bool:
        """The same test as `refusal`: what staff may save is exactly what /l/ follows."""
        return self.refusal(url) is None

    def _listed(self, parts: SplitResult) -> bool:
        host = (parts.hostname or "").lower().rstrip(".")
        for entry in self.destinations:
            if entry.startswith(("https://", "http://")):
                if _under_prefix(parts.scheme, host, parts.port, parts.path, entry):
                    return True
            elif entry.startswith("*."):
                if host.endswith(f".{entry[2:].lower()}"):
                    return True
            elif host == entry.lower():
                return True
        return False


def _split(url: str) -> SplitResult | None:
    """`url` taken apart, or None if it cannot be (a bad IPv6 literal, a port of letters)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
    except ValueError:
        return None
    return parts


def _under_prefix(scheme: str, host: str, port: int | None, path: str, entry: str) -> bool:
    """Compared part by part: a text prefix would let https://city.gov.evil.example through."""
    prefix = urlsplit(entry)
    base = prefix.path if prefix.path.endswith("/") else f"{prefix.path}/"
    return (
        scheme == prefix.scheme
        and host == (prefix.hostname or "").lower()
        and port == prefix.port
        and (path == prefix.path or path.startswith(base) or base == "/")
    )


@dataclass(frozen=True)
class ShortLinker:
    base_url: str  # the CMS as phones reach it; links are <base_url>/l/<code>
    secret: bytes
    # id(items tuple) -> (the tuple, positions of its items with a link): the compiler
    # shares one tuple between every device of a class, so this is worked out once.
    _linked: OrderedDict[int, tuple[Sequence[ContentItem], tuple[int, ...]]] = field(
        default_factory=OrderedDict, compare=False, repr=False
    )

    def code(self, item_id: str, device_id: str) -> str:
        message = f"ds-short-link/1\x1f{item_id}\x1f{device_id}".encode()
        bits = int.from_bytes(hmac.digest(self.secret, message, "sha256")[:8], "big") >> 4
        # 60 bits as 12 base32 characters, two at a time (base64.b32encode is pure Python
        # and was a third of a full recompile's cost with links, bench/links.py).
        pairs = _PAIRS
        return (
            pairs[bits >> 50]
            + pairs[(bits >> 40) & 1023]
            + pairs[(bits >> 30) & 1023]
            + pairs[(bits >> 20) & 1023]
            + pairs[(bits >> 10) & 1023]
            + pairs[bits & 1023]
        )

    def url(self, code: str) -> str:
        return f"{self.base_url}/l/{code}"

    @property
    def fingerprint(self) -> str:
        """Changes when the codes or their address do, so manifests are republished."""
        seed = hmac.new(self.secret, self.base_url.encode(), hashlib.sha256)
        return seed.hexdigest()[:16]

    def _positions(self, items: Sequence[ContentItem]) -> tuple[int, ...]:
        hit = self._linked.get(id(items))
        if hit is not None and hit[0] is items:
            return hit[1]
        positions = tuple(n for n, item in enumerate(items) if item.link_url)
        self._linked[id(items)] = (items, positions)
        while len(self._linked) > 4096:
            self._linked.popitem(last=False)
        return positions

    def with_codes(self, items: tuple[ContentItem, ...], device_id: str) -> tuple[ContentItem, ...]:
        positions = self._positions(items)
        if not positions:
            return items
        coded = list(items)
        for n in positions:
            url = self.url(self.code(items[n].id, device_id))
            caption = url.split("://", 1)[-1]  # typed in by those without a camera app
            # Built from our own base URL and a code: nothing to validate, and 5,000 devices'
            # worth of codes are made on every full recompile (bench/links.py).
            qr = QrCode.model_construct(url=url, caption=caption)
            coded[n] = items[n].model_copy(update={"qr": qr})
        return tuple(coded)


def tracked_links(
    linker: ShortLinker | None, manifest: Manifest, content_hash: str
) -> tuple[Manifest, str]:
    """The manifest with a QR code on each indoor item that has a link, and its hash."""
    if linker is None or manifest.profile.kind is not ProfileKind.INDOOR:
        return manifest, content_hash
    items = linker.with_codes(manifest.items, manifest.device_id)
    defaults = linker.with_codes(manifest.default_items, manifest.device_id)
    if items is manifest.items and defaults is manifest.default_items:
        return manifest, content_hash
    # The codes are a function of the item and device ids, so the class's hash plus the
    # linker's fingerprint still says "unchanged" exactly when the manifest is.
    marked = hashlib.sha256(f"{content_hash} links {linker.fingerprint}".encode()).hexdigest()
    return manifest.model_copy(update={"items": items, "default_items": defaults}), marked


def linker_for(config: CmsConfig) -> ShortLinker:
    return ShortLinker(
        base_url=config.link_base_url or config.public_url,
        secret=config.link_secret.encode(),
    )


def policy_for(config: CmsConfig) -> LinkPolicy:
    return LinkPolicy(config.link_destinations, config.link_allow_http)
