"""Which addresses a feed may use (issue 17), decided without a network: by default only
public ones, in every spelling an address can take; `feed_internal_hosts` lets IT name
the internal hosts (with or without a port) a feed may come from."""

from __future__ import annotations

from ipaddress import ip_address
from pathlib import Path

import pytest

from central_cms.config import CmsConfigError, load_config
from central_cms.feeds.addresses import (
    LINK_LOCAL,
    LOOPBACK,
    MULTICAST,
    PRIVATE,
    PUBLIC_ONLY,
    RESERVED,
    SHARED,
    THIS_HOST,
    FeedHosts,
    address_kind,
    entry_problem,
    literal_address,
)


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", LOOPBACK),
        ("127.255.0.9", LOOPBACK),
        ("10.1.2.3", PRIVATE),
        ("172.16.0.1", PRIVATE),
        ("172.31.255.255", PRIVATE),
        ("192.168.1.10", PRIVATE),
        ("169.254.169.254", LINK_LOCAL),  # the cloud metadata service
        ("100.64.0.1", SHARED),
        ("0.0.0.0", THIS_HOST),
        ("224.0.0.251", MULTICAST),
        ("255.255.255.255", RESERVED),
        ("198.18.0.1", RESERVED),
        ("192.0.2.7", RESERVED),
        ("::1", LOOPBACK),
        ("::", THIS_HOST),
        ("fd12:3456::1", PRIVATE),
        ("fe80::1", LINK_LOCAL),
        ("ff02::1", MULTICAST),
        ("2001:db8::1", RESERVED),
        ("::127.0.0.1", RESERVED),  # the old IPv4-compatible form
        ("3fff::1", None),  # inside 2000::/3, the global unicast space
        ("4000::1", RESERVED),  # outside it: not handed out
        # IPv4 inside IPv6 is judged by the IPv4 address the packets go to.
        ("::ffff:127.0.0.1", LOOPBACK),
        ("::ffff:7f00:1", LOOPBACK),
        ("::ffff:a9fe:a9fe", LINK_LOCAL),
        ("64:ff9b::a00:1", PRIVATE),  # NAT64 of 10.0.0.1
        ("2002:7f00:1::", LOOPBACK),  # 6to4 of 127.0.0.1
        ("::ffff:8.8.8.8", None),
        ("8.8.8.8", None),
        ("172.32.0.1", None),  # just past 172.16.0.0/12
        ("100.128.0.1", None),  # just past the shared range
        ("2606:4700:4700::1111", None),
    ],
)
def test_each_kind_of_non_public_address_is_named_and_public_ones_pass(address, kind):
    assert address_kind(ip_address(address)) == kind


def test_a_zone_on_a_link_local_address_does_not_hide_it():
    assert address_kind(ip_address("fe80::1%eth0")) == LINK_LOCAL


@pytest.mark.parametrize(
    "spelling", ["2130706433", "0177.0.0.1", "0x7f.1", "127.1", "0x7f000001", "017700000001"]
)
def test_the_resolvers_old_spellings_of_an_address_are_read_as_the_resolver_reads_them(spelling):
    # glibc's getaddrinfo takes each of these for 127.0.0.1, so the check must too.
    assert literal_address(spelling) == ip_address("127.0.0.1")
    refusal = PUBLIC_ONLY.url_refusal(f"http://{spelling}/feed.xml")
    assert refusal is not None and f"{spelling} means 127.0.0.1, {LOOPBACK}" in refusal


@pytest.mark.parametrize("name", ["city.gov", "123.example.org", "bookings", "deadbeef"])
def test_a_name_is_not_an_address(name):
    assert literal_address(name) is None


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("http://127.0.0.1:8080/classes.ics", f"127.0.0.1 is {LOOPBACK}"),
        ("http://169.254.169.254/latest/meta-data/", f"169.254.169.254 is {LINK_LOCAL}"),
        ("http://[::1]:5432/", f"::1 is {LOOPBACK}"),
        ("http://[::ffff:169.254.169.254]/", f"means ::ffff:a9fe:a9fe, {LINK_LOCAL}"),
        ("http://[fe80::1%25eth0]/", LINK_LOCAL),
        ("https://LOCALHOST./x", f"localhost resolves to 127.0.0.1, {LOOPBACK}"),
        ("http://db.localhost:5432/", f"db.localhost resolves to 127.0.0.1, {LOOPBACK}"),
        ("http://10.0.0.8/news.rss", f"10.0.0.8 is {PRIVATE}"),
    ],
)
def test_saving_a_literal_internal_address_is_refused_with_the_fix(url, said):
    refusal = PUBLIC_ONLY.url_refusal(url)
    assert refusal is not None and said in refusal
    assert "unless IT lists the host in feed_internal_hosts" in refusal


def test_the_fix_names_the_host_and_port_to_list():
    refusal = PUBLIC_ONLY.url_refusal("http://127.0.0.1:8080/classes.ics")
    assert refusal is not None and refusal.endswith("(e.g. 127.0.0.1:8080)")
    refusal = PUBLIC_ONLY.url_refusal("https://[fd00::5]/x")
    assert refusal is not None and refusal.endswith("(e.g. [fd00::5]:443)")


@pytest.mark.parametrize(
    "url", ["https://city.gov/news.rss", "http://8.8.8.8/x", "http://bookings.intranet/x.ics"]
)
def test_public_addresses_and_names_are_not_refused_when_saved(url):
    # A name is judged on what it resolves to, when fetched (DNS may change meanwhile).
    assert PUBLIC_ONLY.url_refusal(url) is None


def test_an_entry_with_a_port_allows_that_port_only():
    hosts = FeedHosts.parse(["127.0.0.1:8080"])
    assert hosts.url_refusal("http://127.0.0.1:8080/classes.ics") is None
    assert hosts.url_refusal("http://127.0.0.1:5432/") is not None
    assert hosts.url_refusal("http://127.0.0.1/") is not None  # port 80
    loopback = [ip_address("127.0.0.1")]
    assert hosts.connection_refusal("127.0.0.1", 8080, loopback) is None
    assert hosts.connection_refusal("127.0.0.1", 5432, loopback) is not None


def test_an_address_entry_covers_its_dual_stack_spelling_and_every_old_spelling():
    hosts = FeedHosts.parse(["127.0.0.1"])
    assert hosts.connection_refusal("feeds.test", 80, [ip_address("::ffff:127.0.0.1")]) is None
    assert hosts.url_refusal("http://2130706433:9000/x") is None
    assert hosts.url_refusal("http://127.0.0.2/x") is not None


def test_a_network_entry_covers_its_addresses_on_every_port():
    hosts = FeedHosts.parse(["10.20.0.0/16", "[fd00::5]:8443"])
    assert hosts.connection_refusal("bookings", 443, [ip_address("10.20.3.4")]) is None
    assert hosts.connection_refusal("bookings", 443, [ip_address("10.21.0.1")]) is not None
    assert hosts.url_refusal("https://[fd00::5]:8443/x") is None
    assert hosts.url_refusal("https://[fd00::5]/x") is not None


def test_a_listed_name_may_resolve_to_an_internal_address_and_its_subdomains_by_star():
    hosts = FeedHosts.parse(["bookings.intranet", "*.intranet.city.gov"])
    private = [ip_address("10.0.0.5")]
    assert hosts.connection_refusal("bookings.intranet", 443, private) is None
    assert hosts.connection_refusal("BOOKINGS.intranet.", 443, private) is None
    assert hosts.connection_refusal("pool.intranet.city.gov", 443, private) is None
    for other in ("intranet.city.gov", "eviltranet.city.gov", "bookings.intranet.evil.example"):
        assert hosts.connection_refusal(other, 443, private) is not None


def test_a_name_with_one_internal_address_among_public_ones_is_refused():
    found = [ip_address("93.184.216.34"), ip_address("10.0.0.1")]
    refusal = PUBLIC_ONLY.connection_refusal("news.example.org", 443, found)
    assert refusal is not None
    assert refusal.startswith(f"news.example.org resolves to 10.0.0.1, {PRIVATE}")
    assert PUBLIC_ONLY.connection_refusal("news.example.org", 443, found[:1]) is None


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("bookings intranet", "is not a host name, address or network"),
        ("10.0.0.1:99999", "has a port that is not 1..65535"),
        ("10.0.0.0/33", "is not a network (write 10.20.0.0/16)"),
        ("[fd00::5]x", "has a port that is not 1..65535"),
        ("*.", "is not a host name, address or network"),
    ],
)
def test_a_bad_entry_says_what_is_wrong(entry, problem):
    assert entry_problem(entry) == problem


@pytest.mark.parametrize(
    "entry",
    ["bookings", "bookings.intranet:8443", "*.intranet.city.gov", "10.0.0.1", "fd00::5", "[::1]"],
)
def test_good_entries_pass(entry):
    assert entry_problem(entry) is None


def test_the_setting_comes_from_the_environment_or_toml_and_a_bad_entry_names_the_key(
    tmp_path: Path,
):
    instance = tmp_path / "instance"
    assert load_config(env={}, instance_path=instance).feed_internal_hosts == ()
    env = {"DS_CMS_FEED_INTERNAL_HOSTS": "127.0.0.1:8080, bookings.intranet"}
    loaded = load_config(env=env, instance_path=instance)
    assert loaded.feed_internal_hosts == ("127.0.0.1:8080", "bookings.intranet")
    toml = tmp_path / "cms.toml"
    toml.write_text('[cms]\nfeed_internal_hosts = ["10.20.0.0/16"]\n', encoding="utf-8")
    assert load_config(toml, env={}, instance_path=instance).feed_internal_hosts == (
        "10.20.0.0/16",
    )
    with pytest.raises(CmsConfigError) as refused:
        load_config(env={"DS_CMS_FEED_INTERNAL_HOSTS": "http://x/"}, instance_path=instance)
    assert refused.value.key == "feed_internal_hosts" and "http://x/" in str(refused.value)
