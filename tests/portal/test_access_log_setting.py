"""Granian's per-request access log is a `[portal]` setting of the node's TOML (off by
default: a log line for every splash costs the node's two cores), not an environment
variable read deep inside."""

from __future__ import annotations

import pytest

from devices.config import ConfigError
from portal.config import parse_portal_config
from portal.node import server_command

SECTION = {"secret": "a" * 64, "faskey": "demo-faskey"}


def test_the_access_log_is_off_unless_the_portal_section_asks_for_it():
    assert "--access-log" not in server_command(parse_portal_config(SECTION))
    logged = parse_portal_config({**SECTION, "access_log": True})
    assert "--access-log" in server_command(logged)


def test_a_misspelt_access_log_names_the_key():
    with pytest.raises(ConfigError) as error:
        parse_portal_config({**SECTION, "access_log": "yes"})
    assert "portal.access_log" in str(error.value)
