"""Which addresses the CMS may fetch a feed from (issue 17): no server-side request forgery.

A feed's address is typed by staff but fetched by the CMS server, from inside the city's
network: left open, "http://169.254.169.254/" (a cloud's metadata service),
"http://127.0.0.1:5432/" (the database) or a booking system's admin port on 10.x would
be fetched with the server's reach, and what they answer shown to staff as the reason a
feed failed. So by default a feed may only come from a public address; IT lists the
internal hosts a feed may use in `feed_internal_hosts` (a name, "*.intranet.city.gov",
an address or a network, each with an optional port).

The decision is made here, pure: `FeedHosts.url_refusal` when staff save a feed (literal
addresses and "localhost", no DNS), and `FeedHosts.connection_refusal` on the addresses
a name resolves to, at every connection the fetch makes (central_cms/feeds/fetch.py),
each redirect hop included, so a name that resolves elsewhere tomorrow is caught too.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from ipaddress import (
    IPv4Address,
    IPv4Network,
    IPv6Address,
    IPv6Network,
    ip_address,
    ip_network,
)
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from central_cms.config import CmsConfig

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network

SETTING = "feed_internal_hosts"
LOOPBACK = "a loopback address (the CMS server itself)"
PRIVATE = "a private network address"
LINK_LOCAL = "a link-local address (where cloud metadata services answer)"
SHARED = "a shared (carrier-grade NAT) address"
THIS_HOST = "an address that reaches the CMS server itself"
MULTICAST = "a multicast address"
RESERVED = "a reserved address"

_V4: tuple[tuple[IPv4Network, str], ...] = tuple(
    (IPv4Network(net), kind)
    for net, kind in (
        ("0.0.0.0/8", THIS_HOST),
        ("10.0.0.0/8", PRIVATE),
        ("100.64.0.0/10", SHARED),
        ("127.0.0.0/8", LOOPBACK),
        ("169.254.0.0/16", LINK_LOCAL),
        ("172.16.0.0/12", PRIVATE),
        ("192.0.0.0/24", RESERVED),  # IETF protocol assignments
        ("192.0.2.0/24", RESERVED),  # documentation
        ("192.88.99.0/24", RESERVED),  # 6to4 relays (deprecated)
        ("192.168.0.0/16", PRIVATE),
        ("198.18.0.0/15", RESERVED),  # benchmarking
        ("198.51.100.0/24", RESERVED),
        ("203.0.113.0/24", RESERVED),
        ("224.0.0.0/4", MULTICAST),
        ("240.0.0.0/4", RESERVED),  # and 255.255.255.255
    )
)
# Forms that carry an IPv4 address inside an IPv6 one: judged by the IPv4 address, since
# that is where the packets go (a mapped address is how a dual-stack socket says 127.0.0.1).
_MAPPED = IPv6Network("::ffff:0:0/96")
_NAT64 = IPv6Network("64:ff9b::/96")
_6TO4 = IPv6Network("2002::/16")
_V6: tuple[tuple[IPv6Network, str], ...] = tuple(
    (IPv6Network(net), kind)
    for net, kind in (
        ("::1/128", LOOPBACK),
        ("::/128", THIS_HOST),
        ("::/8", RESERVED),  # includes the old IPv4-compatible ::a.b.c.d
        ("64:ff9b:1::/48", PRIVATE),  # local-use NAT64
        ("100::/64", RESERVED),  # discard
        ("2001::/23", RESERVED),  # IETF protocol assignments (Teredo among them)
        ("2001:db8::/32", RESERVED),  # documentation
        ("fc00::/7", PRIVATE),  # unique local
        ("fe80::/10", LINK_LOCAL),
        ("fec0::/10", PRIVATE),  # site-local (deprecated)
        ("ff00::/8", MULTICAST),
    )
)
_GLOBAL_V6 = IPv6Network("2000::/3")  # the only unicast space handed out publicly

_NAME = re.compile(r"^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$")
_LEGACY_V4 = re.compile(r"^[0-9a-fx.]+$")  # 2130706433, 0177.0.0.1, 0x7f.1, 127.1


def address_kind(address: Address) -> str | None:
    """What sort of non-public address `address` is, in staff's words; None if public."""
    if isinstance(address, IPv6Address):
        address = IPv6Address(address.packed)  # without a %zone
        embedded = _embedded_v4(address)
        if embedded is not None:
            return address_kind(embedded)
        for network, kind in _V6:
            if address in network:
                return kind
        return None if address in _GLOBAL_V6 else RESERVED
    for network4, kind in _V4:
        if address in network4:
            return kind
    return None


def _embedded_v4(address: IPv6Address) -> IPv4Address | None:
    if address in _MAPPED or address in _NAT64:
        return IPv4Address(address.packed[-4:])
    if address in _6TO4:
        return address.sixtofour
    return None


def literal_address(host: str) -> Address | None:
    """The address `host` names without asking DNS, in every spelling the system's
    resolver accepts (it takes 2130706433 and 0177.0.0.1 for 127.0.0.1); None for a name."""
    host = host.lower().rstrip(".").split("%", 1)[0]
    try:
        return ip_address(host)
    except ValueError:
        pass
    if _LEGACY_V4.match(host) and any(ch.isdigit() for ch in host):
        try:
            return IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


@dataclass(frozen=True)
class HostEntry:
    """One `feed_internal_hosts` entry: a name, "*." and a domain, or an address or
    network; `port` None for every port."""

    text: str
    name: str = ""
    suffix: str = ""  # ".intranet.city.gov" for "*.intranet.city.gov"
    network: Network | None = None
    port: int | None = None

    def names(self, host: str, port: int) -> bool:
        if self.port is not None and port != self.port:
            return False
        if self.name:
            return host == self.name
        return bool(self.suffix) and host.endswith(self.suffix)

    def covers(self, address: Address, port: int) -> bool:
        if self.network is None or (self.port is not None and port != self.port):
            return False
        if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # a dual-stack socket's way to write IPv4
        return address.version == self.network.version and address in self.network


def parse_entry(text: str) -> HostEntry:
    """`text` as an entry; ValueError saying what is wrong with it."""
    entry = text.strip().lower()
    host, port = entry, None
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        if rest:
            port = _port(rest.removeprefix(":") if rest.startswith(":") else "x")
    elif entry.count(":") == 1:
        host, _, raw_port = entry.partition(":")
        port = _port(raw_port)
    if "/" in host:
        try:
            return HostEntry(text, network=ip_network(host, strict=False), port=port)
        except ValueError:
            raise ValueError("is not a network (write 10.20.0.0/16)") from None
    address = literal_address(host) if ":" in host or host[:1].isdigit() else None
    if address is not None:
        return HostEntry(text, network=ip_network(address), port=port)
    if host.startswith("*.") and _NAME.match(host[2:]) and "." in host[2:]:
        return HostEntry(text, suffix=host[1:].rstrip("."), port=port)
    if _NAME.match(host.rstrip(".")):
        return HostEntry(text, name=host.rstrip("."), port=port)
    raise ValueError("is not a host name, address or network")


def _port(raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise ValueError("has a port that is not 1..65535")
    return int(raw)


def entry_problem(text: str) -> str | None:
    """What is wrong with one `feed_internal_hosts` entry, or None (config validation)."""
    try:
        parse_entry(text)
    except ValueError as error:
        return str(error)
    return None


@dataclass(frozen=True)
class FeedHosts:
    """The internal hosts IT lets feeds use; every public address is allowed."""

    entries: tuple[HostEntry, ...] = ()

    @classmethod
    def parse(cls, texts: Iterable[str]) -> FeedHosts:
        return cls(tuple(parse_entry(text) for text in texts))

    def connection_refusal(self, host: str, port: int, addresses: Sequence[Address]) -> str | None:
        """Why the fetch may not connect to `host` (`port`), which resolved to `addresses`;
        None if it may. A listed name may resolve anywhere (IT vouches for it); otherwise
        every address must be public or listed, since the connection may use any of them."""
        host = host.lower().rstrip(".")
        if any(entry.names(host, port) for entry in self.entries):
            return None
        for address in addresses:
            kind = address_kind(address)
            if kind is not None and not self._covers(address, port):
                return self._refusal(host, port, address, kind)
        return None

    def url_refusal(self, url: str) -> str | None:
        """What can be told of `url` without DNS (save time, each redirect): a literal
        address or "localhost" that is not public and not listed. None: fetch and see."""
        try:
            parts = urlsplit(url)
            port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        except ValueError:
            return "the address has a port that is not a number"
        host = (parts.hostname or "").rstrip(".")
        if not host or any(entry.names(host, port) for entry in self.entries):
            return None
        if host == "localhost" or host.endswith(".localhost"):  # RFC 6761: always loopback
            return self._refusal(host, port, IPv4Address("127.0.0.1"), LOOPBACK)
        address = literal_address(host)
        if address is None:
            return None
        kind = address_kind(address)
        if kind is None or self._covers(address, port):
            return None
        return self._refusal(host, port, address, kind)

    def _covers(self, address: Address, port: int) -> bool:
        return any(entry.covers(address, port) for entry in self.entries)

    def _refusal(self, host: str, port: int, address: Address, kind: str) -> str:
        if host == str(address):
            where = f"{host} is {kind}"
        elif literal_address(host) == address:
            where = f"{host} means {address}, {kind}"
        else:
            where = f"{host} resolves to {address}, {kind}"
        shown = f"[{host}]" if ":" in host else host
        return (
            f"{where}: a feed may only come from a public address unless IT lists the "
            f"host in {SETTING} (e.g. {shown}:{port})"
        )


PUBLIC_ONLY = FeedHosts()  # the default: no internal host listed


def feed_hosts(config: CmsConfig) -> FeedHosts:
    return FeedHosts.parse(config.feed_internal_hosts)
