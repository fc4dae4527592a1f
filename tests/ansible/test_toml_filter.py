"""The `to_toml` filter writes device and CMS configuration that Python's tomllib reads back
exactly, and refuses what TOML cannot hold, naming the key."""

from __future__ import annotations

import importlib.util
import math
import re
import tomllib
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.ansible.support import ANSIBLE_DIR


def _load_filter_module() -> ModuleType:
    path = ANSIBLE_DIR / "filter_plugins" / "digital_spaces_toml.py"
    spec = importlib.util.spec_from_file_location("digital_spaces_toml", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_module = _load_filter_module()
to_toml: Callable[[object], str] = _module.to_toml

keys = st.text(min_size=1, max_size=8)
scalars = (
    st.text(max_size=12)
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.booleans()
    | st.floats(allow_nan=False, allow_infinity=False)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=6,
)
documents = st.dictionaries(keys, values | st.dictionaries(keys, values, max_size=4), max_size=4)


# The machines running the suite are shared and busy; generation speed is not under test.
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_any_configuration_reads_back_unchanged(config: dict[str, Any]) -> None:
    assert tomllib.loads(to_toml(config)) == config


def test_device_configuration_renders_as_tables() -> None:
    text = to_toml(
        {
            "device": {"id": "sig-riverton-lp-foyer-01", "kind": "player"},
            "broker": {"urls": ["mqtts://cms:8883"], "password": 'p"w\\ü'},
            "cache": {"budget_mb": 2048},
        }
    )
    assert '[device]\nid = "sig-riverton-lp-foyer-01"' in text
    assert "budget_mb = 2048\n" in text
    assert tomllib.loads(text)["broker"]["password"] == 'p"w\\ü'


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"broker": {"password": None}}, "broker.password"),
        ({"cache": {"budget_mb": math.inf}}, "cache.budget_mb"),
        ({"device": {"tags": ["a", None]}}, "device.tags[1]"),
        ({"device": {"id": b"bytes"}}, "device.id"),
    ],
)
def test_a_value_toml_cannot_hold_is_refused_naming_its_key(
    config: dict[str, Any], key: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(f"to_toml: {key} = ")):
        to_toml(config)


def test_only_a_mapping_is_a_document() -> None:
    with pytest.raises(ValueError, match="must be a mapping"):
        to_toml(["not", "a", "table"])
