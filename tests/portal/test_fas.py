"""FAS query parsing against queries captured from the real openNDS 9.10 in the harness."""

from __future__ import annotations

import urllib.parse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.fas import (
    FasClient,
    FasError,
    auth_target,
    auth_token,
    encode_query,
    hid_for_token,
    hid_matches_token,
    parse_query,
)

KEY = "dsnds-test-key"
# Captured from `opennds-netns.sh` (FAS_SECURE=1), token 2a85c9c9.
LEVEL1_FAS = (
    "aGlkPTEzYzMzZWIyYzMzZDRlMzRjNjE3NDE2ZGM5NzI4ZjE5ZDE3MThkMDFmYTU2ZDhjODRiOGI3ODllN2ZiNzg1Y2Ms"
    "IGNsaWVudGlwPTEwLjc3LjEuMiwgY2xpZW50bWFjPTkyOjc0OmY4OmExOmQ3OmQzLCBjbGllbnRfdHlwZT1jcGRfY2Fu"
    "LCBnYXRld2F5bmFtZT1kc25kcywgZ2F0ZXdheXVybD1odHRwJTNhJTJmJTJmMTAuNzcuMS4xLCB2ZXJzaW9uPTkuMTAu"
    "MCwgZ2F0ZXdheWFkZHJlc3M9MTAuNzcuMS4xOjIwNTAsIGdhdGV3YXltYWM9MjJmY2RjN2ZlZjYzLCBvcmlnaW51cmw9"
    "aHR0cCUzYSUyZiUyZjEwLjc3LjIuMiUyZnNvbWUlMmZwYXRoJTNmeCUzZDElMjZ5JTNkJTIweiwgY2xpZW50aWY9YnIt"
    "bGFuLCB0aGVtZXNwZWM9KG51bGwpLCAobnVsbCkobnVsbCkobnVsbCkobnVsbCk="
)
# Captured at FAS_SECURE=2, token f078259e.
LEVEL2_FAS = (
    "UFV1cHVvbWJpRXlzTklMN1k1S202aGJzUktKT2FvK21lSHNHUERpb016UGRlZHhXQTVJbkxZRWFFK1g3YjQ4VERobWdp"
    "WWhWUEdjTFl4OVdlWGFIL0hSNVkzSGVJY2J0citTNlZ1QjMySzQ5VTl2VFplZDJYdGt0MzZacHJPTGhnREdsRitnRHMr"
    "dWxaY1FBWlJ5RzBLMU1YK3R0QzFtVlFXWFo1emhHdHA1aGVmTEhqQUJDZWh2bjJwVTJjTVhvRmFiaHNrMHhLOHpNdnhU"
    "aDFZWFhlSFhuOVdsUExmcXN3MDVHK2o2QmNSNHlFS0loRFRnUjRkd2FVTTB0TDhZQnJGOUhSa0ZvRmdjWWMyRGtWR2tE"
    "Z0RIYytvVlpoRUJ1MXNZTEc1cldVbnBQRGlQN21KeGdlSFZheWQxUEY2aE96M3RROUE0VGxLMnJHOHE3VzZYWHZLMlEw"
    "bTBJdldJTVpOMzVyc0p1NnNTUHM5ajYxVFV4RkIxNW9pM3VjMEVCbnBDV0JxZUoyT054RWhYSUxUbEg0OGR6c3U3T1ZX"
    "aWdDbnpJUnpMLzhGTWlHUHFJWXBFZFNtVWFTVFQ3K2xtdG84WUYxQXNNZHY2NENRU1RETUJJWXNYaUxKcDZWaXhlbEdo"
    "QmhDUTZDWURGSE50ZEtFQ3BoNVZMUytIWE9pMXM0aHU3NEJuUlpCQjZDTU9vViswTThnPT0="
)
LEVEL2_IV = "8104170026c376e1"


def test_level1_query_from_opennds_decodes_client_and_origin():
    client = parse_query({"fas": LEVEL1_FAS}, level=1, faskey=KEY)
    assert client.client_ip == "10.77.1.2"
    assert client.client_mac == "92:74:f8:a1:d7:d3"
    assert client.gateway_address == "10.77.1.1:2050"
    assert client.origin_url == "http://10.77.2.2/some/path?x=1&y= z"
    assert hid_matches_token(client.hid, "2a85c9c9")
    assert not hid_matches_token(client.hid, "2a85c9c8")


def test_level2_query_from_opennds_decrypts_with_the_faskey():
    client = parse_query({"fas": LEVEL2_FAS, "iv": LEVEL2_IV}, level=2, faskey=KEY)
    assert client.client_mac == "96:76:65:5e:38:70"
    assert client.origin_url == "http://10.77.2.2/a?b=c"
    assert client.auth_dir == "opennds_auth"
    assert client.hid == hid_for_token("f078259e")


def test_level2_query_with_another_key_is_refused():
    with pytest.raises(FasError) as error:
        parse_query({"fas": LEVEL2_FAS, "iv": LEVEL2_IV}, level=2, faskey="wrong-key")
    assert error.value.field in {"fas", "hid"}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({}, "fas"),
        ({"fas": "not base64!!"}, "fas"),
        ({"fas": "aGVsbG8="}, "hid"),  # "hello"
        ({"fas": LEVEL2_FAS}, "iv"),
        ({"fas": LEVEL2_FAS, "iv": "../../etc/passwd"}, "iv"),
    ],
)
def test_malformed_queries_name_the_field(query, field):
    level = 2 if field == "iv" else 1
    with pytest.raises(FasError) as error:
        parse_query(query, level=level, faskey=KEY)
    assert error.value.field == field


def test_level_3_is_refused_with_a_clear_reason():
    with pytest.raises(FasError, match="not supported"):
        parse_query({"fas": LEVEL1_FAS}, level=3, faskey=KEY)


def test_auth_target_is_the_gateway_auth_dir_with_the_documented_token():
    client = parse_query({"fas": LEVEL1_FAS}, level=1, faskey=KEY)
    url = urllib.parse.urlsplit(auth_target(client, KEY, "http://10.77.2.2/"))
    assert (url.scheme, url.netloc, url.path) == ("http", "10.77.1.1:2050", "/opennds_auth/")
    query = urllib.parse.parse_qs(url.query)
    assert query["tok"] == [auth_token(client.hid, KEY)]
    assert query["redir"] == ["http://10.77.2.2/"]


def test_hostile_gateway_address_is_refused():
    client = FasClient(
        hid="a" * 64,
        client_ip="10.0.0.2",
        client_mac="02:00:00:00:00:01",
        gateway_address="evil.example:80",
        gateway_name="x",
        origin_url="http://example.org/",
    )
    with pytest.raises(FasError) as error:
        parse_query(encode_query(client, level=1, faskey=KEY, iv=""), level=1, faskey=KEY)
    assert error.value.field == "gatewayaddress"


@given(
    origin=st.text(max_size=200),
    name=st.text(max_size=40),
    level=st.sampled_from([1, 2]),
)
def test_encode_then_parse_round_trips(origin, name, level):
    client = FasClient(
        hid="b" * 64,
        client_ip="10.77.1.2",
        client_mac="02:00:00:00:00:01",
        gateway_address="10.77.1.1:2050",
        gateway_name=name,
        origin_url=origin,
    )
    query = encode_query(client, level=level, faskey=KEY, iv="0123456789abcdef")
    parsed = parse_query(query, level=level, faskey=KEY)
    assert parsed.origin_url == origin
    assert parsed.gateway_name == name[:64]
