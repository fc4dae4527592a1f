"""The node's own firewall rules beside openNDS (issue 16): the walled garden, and IPv6.

Walled garden: openNDS 9.10 lets clients reach a walled garden before they accept only
through rules it writes at start-up (``walledgarden_fqdn_list``, FirewallRuleSet
``preauthenticated-users``), so a change would need a restart that logs every visitor
out. The node instead keeps one pair of rules per address in openNDS's own chains, the
same pair openNDS writes for its ipset: ``nat ndsOUT -d IP -j ACCEPT`` (not captured to
the splash) and ``filter ndsNET -d IP -j ACCEPT`` (forwarded). They carry a comment, are
diffed against what is there on every apply, and come back by themselves after openNDS
restarts (it recreates its chains empty).

IPv6: openNDS 9.10 is IPv4 only ("IPv6 is not supported yet"): it cannot hold an IPv6
client at the portal, so IPv6 is not offered on the visitor network. The node drops
every IPv6 packet forwarded from or to the visitor interface, authorised or not, and
every IPv6 packet to the node from it except neighbour discovery (one nft table of its
own, replaced atomically).
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import subprocess
from collections.abc import Callable, Iterable, Sequence

from devices.protocol import WifiPolicy
from portal.admission import GatewayError

log = logging.getLogger(__name__)

COMMENT = "ds-walled-garden"
IPV6_TABLE = "ds_portal_ipv6"
# (table, chain) of openNDS's where a walled-garden address is let through.
_CHAINS = (("nat", "ndsOUT"), ("filter", "ndsNET"))

Run = Callable[[Sequence[str], str | None], str]  # argv, stdin -> stdout; GatewayError
Resolve = Callable[[str], list[str]]  # host name -> IPv4 addresses


def run_tool(argv: Sequence[str], stdin: str | None) -> str:
    try:
        done = subprocess.run(
            list(argv), input=stdin, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise GatewayError(f"{argv[0]}: {error}") from None
    if done.returncode != 0:
        raise GatewayError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr[:200]}")
    return done.stdout


def resolve_ipv4(host: str) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_STREAM)
    except OSError as error:
        log.warning("walled-garden host %s does not resolve: %s", host, error)
        return []
    return sorted({str(info[4][0]) for info in infos})


def garden_addresses(hosts: Iterable[str], resolve: Resolve) -> list[str]:
    """IPv4 addresses of the walled garden: literals as they are, names resolved."""
    addresses: set[str] = set()
    for host in hosts:
        try:
            addresses.add(str(ipaddress.IPv4Address(host)))
        except ValueError:
            addresses.update(resolve(host))
    return sorted(addresses)


def garden_rule(address: str) -> list[str]:
    """The match and target of one walled-garden rule (after ``-A CHAIN``)."""
    return ["-d", f"{address}/32", "-m", "comment", "--comment", COMMENT, "-j", "ACCEPT"]


def ours_in(listing: str, chain: str) -> set[str]:
    """Addresses of our rules in ``iptables -S CHAIN`` output."""
    found = set()
    for line in listing.splitlines():
        parts = line.split()
        if parts[:2] == ["-A", chain] and COMMENT in parts and "-d" in parts:
            found.add(parts[parts.index("-d") + 1].removesuffix("/32"))
    return found


def ipv6_ruleset(interface: str) -> str:
    """The nft script that (re)places the IPv6 table in one transaction."""
    return f"""add table inet {IPV6_TABLE}
delete table inet {IPV6_TABLE}
table inet {IPV6_TABLE} {{
  chain forward {{
    type filter hook forward priority -10; policy accept;
    iifname "{interface}" meta nfproto ipv6 drop
    oifname "{interface}" meta nfproto ipv6 drop
  }}
  chain input {{
    type filter hook input priority -10; policy accept;
    iifname "{interface}" icmpv6 type {{ nd-neighbor-solicit, nd-neighbor-advert }} accept
    iifname "{interface}" meta nfproto ipv6 drop
  }}
}}
"""


class NodeFirewall:
    """Applies the walled garden and the IPv6 guard through iptables and nft, each run
    behind `prefix` (e.g. ``ip netns exec GW`` in tests)."""

    def __init__(
        self,
        run: Run = run_tool,
        *,
        interface: str = "br-lan",
        prefix: Sequence[str] = (),
        resolve: Resolve = resolve_ipv4,
    ) -> None:
        self._run = run
        self._interface = interface
        self._prefix = tuple(prefix)
        self._resolve = resolve

    def _cmd(self, *argv: str, stdin: str | None = None) -> str:
        return self._run((*self._prefix, *argv), stdin)

    def guard_ipv6(self) -> None:
        self._cmd("nft", "-f", "-", stdin=ipv6_ruleset(self._interface))

    def apply_walled_garden(self, policy: WifiPolicy | None) -> list[str]:
        """Make openNDS's chains hold exactly the policy's addresses; returns them.
        GatewayError when openNDS's chains are not there (not started yet)."""
        wanted = garden_addresses(policy.walled_garden if policy else (), self._resolve)
        for table, chain in _CHAINS:
            have = ours_in(self._cmd("iptables", "-t", table, "-S", chain), chain)
            for address in sorted(have - set(wanted)):
                self._cmd("iptables", "-t", table, "-D", chain, *garden_rule(address))
            for address in wanted:
                if address not in have:
                    self._cmd("iptables", "-t", table, "-I", chain, "1", *garden_rule(address))
        return wanted

    def apply(self, policy: WifiPolicy | None) -> None:
        """Both, logging (not raising) what failed: the next poll tries again."""
        for name, step in (
            ("IPv6 guard", self.guard_ipv6),
            ("walled garden", lambda: self.apply_walled_garden(policy)),
        ):
            try:
                step()
            except GatewayError as error:
                log.warning("%s not applied: %s", name, error)
