"""How a web server worker chooses its core, and the setting that turns pinning off."""

from __future__ import annotations

import pytest

from devices.config import ConfigError
from portal.config import parse_portal_config
from portal.worker import choose_core

SECRET = "s" * 40


def test_a_worker_takes_the_lowest_core_no_other_worker_has():
    assert choose_core([0, 1, 2, 3], []) == 0
    assert choose_core([0, 1, 2, 3], [0, 2]) == 1
    assert choose_core([0, 1], [1]) == 0  # a respawned worker gets its predecessor's core


def test_with_every_core_taken_a_worker_shares_the_least_crowded_one():
    assert choose_core([0, 1], [0, 1, 0]) == 1
    assert choose_core([2, 3], [0, 1, 2]) == 3  # only cores it is allowed on count


def test_pinning_is_on_unless_the_config_turns_it_off():
    assert parse_portal_config({"secret": SECRET, "faskey": "k"}).pin_workers is True
    off = parse_portal_config({"secret": SECRET, "faskey": "k", "pin_workers": False})
    assert off.pin_workers is False
    with pytest.raises(ConfigError, match="pin_workers"):
        parse_portal_config({"secret": SECRET, "faskey": "k", "pin_workers": "no"})
