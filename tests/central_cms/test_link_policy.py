"""The city's allow-list of link destinations and the short codes, as pure functions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from central_cms.config import CmsConfigError, load_config
from central_cms.links import CODE_PATTERN, LinkPolicy, ShortLinker

CITY = LinkPolicy(("bookings.city.example", "*.leisure.example", "https://city.example/events/"))


@pytest.mark.parametrize(
    "url",
    [
        "https://bookings.city.example/swim?term=1",
        "https://pool.leisure.example/timetable",
        "https://city.example/events/",
        "https://city.example/events/carnival",
        "https://BOOKINGS.city.example/",
    ],
)
def test_destinations_the_city_names_are_allowed(url) -> None:
    assert CITY.refusal(url) is None


@pytest.mark.parametrize(
    ("url", "fix"),
    [
        ("http://bookings.city.example/swim", "write https://bookings.city.example/swim"),
        ("https://leisure.example/", "leisure.example is not one of the city's approved"),
        ("https://city.example/eventsx", "city.example is not one of"),
        ("https://city.example/", "city.example is not one of"),
        ("https://bookings.city.example.attacker.test/", "attacker.test is not one of"),
        ("https://bookings.city.example@attacker.test/", "user name or password"),
        ("https://attacker.test\\@bookings.city.example/", "spaces or backslashes"),
        ("javascript:alert(1)", "starting with https://"),
        ("bookings.city.example/swim", "starting with https://"),
    ],
)
def test_anything_else_is_refused_with_the_fix(url, fix) -> None:
    refusal = CITY.refusal(url)
    assert refusal is not None and fix in refusal
    assert not CITY.allows(url)


def test_plain_http_only_where_the_city_turned_it_on() -> None:
    lenient = LinkPolicy(CITY.destinations, allow_http=True)
    assert lenient.refusal("http://bookings.city.example/swim") is None
    assert lenient.allows("http://bookings.city.example/swim")


@given(st.text(min_size=1, max_size=40))
def test_no_host_outside_the_list_is_ever_allowed(host) -> None:
    url = f"https://{host}/path"
    if CITY.allows(url):
        from urllib.parse import urlsplit

        name = (urlsplit(url).hostname or "").rstrip(".")
        assert (
            name == "bookings.city.example"
            or name.endswith(".leisure.example")
            or (name == "city.example" and urlsplit(url).path.startswith("/events/"))
        )


def test_codes_are_short_stable_per_item_and_screen_and_keyed_by_the_secret() -> None:
    linker = ShortLinker("https://go.city.example", b"secret-1")
    code = linker.code("swim-poster-1a2b3c", "sig-north-pool")
    assert CODE_PATTERN.match(code)
    assert code == ShortLinker("https://go.city.example", b"secret-1").code(
        "swim-poster-1a2b3c", "sig-north-pool"
    )
    assert code != linker.code("swim-poster-1a2b3c", "sig-south-library")
    assert code != ShortLinker("https://go.city.example", b"secret-2").code(
        "swim-poster-1a2b3c", "sig-north-pool"
    )
    assert linker.url(code) == f"https://go.city.example/l/{code}"


def test_the_city_sets_its_destinations_in_toml_or_the_environment(tmp_path) -> None:
    toml = tmp_path / "cms.toml"
    toml.write_text('[cms]\nlink_destinations = ["bookings.city.example", "*.leisure.example"]\n')
    config = load_config(toml, env={}, instance_path=tmp_path / "i")
    assert config.link_destinations == ("bookings.city.example", "*.leisure.example")
    assert (
        config.link_secret
        and config.link_secret
        == load_config(toml, env={}, instance_path=tmp_path / "i").link_secret
    )  # kept in the instance folder, so codes survive a restart
    from_env = load_config(
        env={
            "DS_CMS_LINK_DESTINATIONS": "city.example, https://city.example/events/",
            "DS_CMS_LINK_BASE_URL": "https://go.city.example/",
        },
        instance_path=tmp_path / "i",
    )
    assert from_env.link_destinations == ("city.example", "https://city.example/events/")
    assert from_env.link_base_url == "https://go.city.example"
    with pytest.raises(CmsConfigError) as refused:
        load_config(env={"DS_CMS_LINK_DESTINATIONS": "not a host"}, instance_path=tmp_path / "i")
    assert "link_destinations" in str(refused.value)
