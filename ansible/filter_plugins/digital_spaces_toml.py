"""`to_toml`: render the device configuration (a mapping from the inventory) as a TOML document.

Ansible has no TOML writer, and Python's `tomllib` only reads. The device configuration is
small and regular (tables of strings, numbers, booleans and lists), so this writer covers exactly
that and refuses anything else with the key that holds it, rather than writing a file the device
would reject at boot.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


class TomlRenderError(ValueError):
    """A value in the configuration cannot be written as TOML."""

    def __init__(self, key: str, value: object, fix: str) -> None:
        super().__init__(f"to_toml: {key} = {value!r}: {fix}")
        self.key = key


def _string(text: str, path: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise TomlRenderError(path, text, "strings must be valid Unicode") from None
    # JSON's escapes (\" \\ \n \u0001 ...) are valid in a TOML basic string; JSON leaves DEL
    # (U+007F) bare, which TOML forbids.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _key(name: object, path: str) -> str:
    if not isinstance(name, str) or not name:
        raise TomlRenderError(path or "<root>", name, "keys must be non-empty strings")
    return name if _BARE_KEY.fullmatch(name) else _string(name, path)


def _scalar(value: object, path: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TomlRenderError(path, value, "use a finite number")
        return repr(value)
    if isinstance(value, str):
        return _string(value, path)
    if isinstance(value, bytes | bytearray):
        raise TomlRenderError(path, value, "give text, not bytes")
    if isinstance(value, Mapping):
        items = ", ".join(
            f"{_key(k, path)} = {_scalar(v, f'{path}.{k}')}" for k, v in value.items()
        )
        return "{ " + items + " }" if items else "{}"
    if isinstance(value, Sequence):
        return "[" + ", ".join(_scalar(v, f"{path}[{i}]") for i, v in enumerate(value)) + "]"
    if value is None:
        raise TomlRenderError(path, value, "TOML has no null; remove the key or give it a value")
    raise TomlRenderError(path, value, f"cannot write a {type(value).__name__} as TOML")


def _table(table: Mapping[object, object], path: str, lines: list[str]) -> None:
    # TOML needs a table's plain keys before its sub-tables.
    subtables = [(k, v) for k, v in table.items() if isinstance(v, Mapping)]
    for name, value in table.items():
        if not isinstance(value, Mapping):
            lines.append(f"{_key(name, path)} = {_scalar(value, _join(path, name))}")
    for name, value in subtables:
        assert isinstance(value, Mapping)
        header = _join(path, _key(name, path))
        lines.extend(["", f"[{header}]"])
        _table(value, header, lines)


def _join(path: str, name: object) -> str:
    return f"{path}.{name}" if path else str(name)


def to_toml(config: object) -> str:
    """The mapping `config` as a TOML document ending in a newline."""
    if not isinstance(config, Mapping):
        raise TomlRenderError("<root>", config, "the configuration must be a mapping")
    lines: list[str] = []
    _table(config, "", lines)
    return "\n".join(lines).lstrip("\n") + "\n"


class FilterModule:
    """Ansible's entry point for filter plugins."""

    def filters(self) -> dict[str, Callable[[object], str]]:
        return {"to_toml": to_toml}
