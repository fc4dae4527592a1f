"""IPv6 on the visitor network (issue 16; openNDS issues 408, 665): openNDS 9.10 holds
only IPv4 at the portal, so a phone with an IPv6 route walks past it. The node's guard
(`portal.firewall`) makes IPv6 from the visitor interface go nowhere, before and after
the phone accepts, while IPv4 keeps working as openNDS decides."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from portal.firewall import NodeFirewall
from portal.ndsctl import NdsctlSocket
from testkit.harness import eventually
from tests.portal.opennds_harness import Harness, opennds, skip_unless_possible

CLIENT6, GW_LAN6, GW_WAN6, UP6 = "fd77:1::2", "fd77:1::1", "fd77:2::1", "fd77:2::2"


def ns(namespace: str, *argv: str) -> None:
    subprocess.run(["ip", "netns", "exec", namespace, *argv], check=True, capture_output=True)


def give_ipv6(harness: Harness) -> None:
    """What a site router that hands out IPv6 would give the phone and the gateway."""
    client, gw, up = harness.env["CLIENT_NS"], harness.env["GW_NS"], harness.env["UP_NS"]
    for namespace, links in (
        (client, ("eth0",)),
        (gw, ("br-lan", "lan1", "wan0")),
        (up, ("eth0",)),
    ):
        for link in ("all", "default", *links):
            ns(namespace, "sysctl", "-qw", f"net.ipv6.conf.{link}.disable_ipv6=0")
    ns(gw, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
    for namespace, address, link in (
        (client, f"{CLIENT6}/64", "eth0"),
        (gw, f"{GW_LAN6}/64", "br-lan"),
        (gw, f"{GW_WAN6}/64", "wan0"),
        (up, f"{UP6}/64", "eth0"),
    ):
        ns(namespace, "ip", "-6", "addr", "add", address, "dev", link, "nodad")
    ns(client, "ip", "-6", "route", "add", "default", "via", GW_LAN6)
    ns(up, "ip", "-6", "route", "add", "fd77:1::/64", "via", GW_WAN6)


def reaches_over_ipv6(harness: Harness, url: str) -> bool:
    done = harness.client(
        "curl", "-6", "-s", "-m", "3", "-o", "/dev/null", "-w", "%{http_code}", url
    )
    return done.stdout not in ("", "000")


@pytest.fixture
def harness(tmp_path) -> Iterator[Harness]:
    skip_unless_possible(1)
    with opennds(1, 8000, "ipv6-test-key", FAS_RELAY="0", FAS_BUILTIN="1") as running:
        give_ipv6(running)
        (tmp_path / "index.html").write_text("V6-UPSTREAM\n")
        server = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                running.env["UP_NS"],
                "python3",
                "-m",
                "http.server",
                "80",
                "--bind",
                UP6,
                "--directory",
                str(tmp_path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            yield running
        finally:
            server.terminate()  # by PID
            server.wait(timeout=10)


def test_ipv6_from_a_visitor_goes_nowhere_authorised_or_not(harness: Harness):
    upstream6 = f"http://[{UP6}]/"
    # Without the guard IPv6 walks past openNDS while IPv4 is still captured.
    assert eventually(lambda: reaches_over_ipv6(harness, upstream6), timeout_s=10)
    assert harness.first_contact(harness.env["UPSTREAM_URL"])[0] == 307

    NodeFirewall(interface="br-lan", prefix=harness.in_gw).guard_ipv6()
    assert not reaches_over_ipv6(harness, upstream6)
    assert not reaches_over_ipv6(harness, f"http://[{GW_LAN6}]:2050/")  # nor the gateway

    # Accepted: IPv4 goes online, IPv6 still goes nowhere (not offered on this network).
    answer = NdsctlSocket(harness.ndsctl_socket)(f"auth {harness.env['CLIENT_IP']},,,,,,")
    assert answer == "Yes"
    assert harness.curl(harness.env["UPSTREAM_URL"])[0] == 200
    assert not reaches_over_ipv6(harness, upstream6)

    # Applying again (every poll of the node) replaces the table, never stacks it.
    guard = NodeFirewall(interface="br-lan", prefix=harness.in_gw)
    guard.guard_ipv6()
    listing = subprocess.run(
        [*harness.in_gw, "nft", "list", "tables"], capture_output=True, text=True, check=True
    ).stdout
    assert listing.count("ds_portal_ipv6") == 1
