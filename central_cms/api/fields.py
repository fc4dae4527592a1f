"""Field types for the REST API's schemas that accept exactly what the OpenAPI document
says (issue 13, point 11).

marshmallow's own fields are lenient where JSON Schema is not: `Integer` takes `"5"` and
`true`, `Boolean` takes `"yes"`, `Float` takes `"1.5"`, and `String` takes a NUL, which
PostgreSQL refuses in text (a 500). Every bound here is also in the document, so a client
(or schemathesis) can tell a request we accept from one we refuse before sending it.
"""

from __future__ import annotations

import math
import re
from typing import Any

from apiflask.fields import Boolean, Field, Float, Integer, String
from apiflask.validators import Length, Range, Regexp
from marshmallow import ValidationError

from devices.protocol.topics import ID_PATTERN

# Python's str.isspace() characters, literally (not `\s`): the services strip exactly these,
# and a literal class means the same in Python's `re` and in the ECMA regexes that
# OpenAPI tools use.
_BLANK = "".join(c for c in map(chr, range(0x3001)) if c.isspace())
NUL = "\x00"
NO_NUL = f"^[^{NUL}]*$"
NOT_BLANK = f"^[{_BLANK}]*[^{_BLANK}{NUL}][^{NUL}]*$"
HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
# devices.protocol's HttpUrl, with the same literal white space.
HTTP_URL = f"^https?://[^{_BLANK}{NUL}/?#\\\\]+[^{_BLANK}{NUL}\\\\]*$"
# PostgreSQL `integer` columns.
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1


class Pattern(Regexp):
    """`Regexp` that must match the whole value: in Python `$` also matches before a final
    newline, in the document's (ECMA) regexes it does not."""

    def __init__(self, regex: str, *, error: str | None = None) -> None:
        super().__init__(regex, error=error)
        self._whole = re.compile(regex)

    def __call__(self, value: Any) -> Any:
        if not isinstance(value, str) or self._whole.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


ID_RULE = "1-64 lowercase letters, digits and '-', not starting or ending with '-'"


def Id(**kwargs: Any) -> String:
    """A site, device, profile or tag id, as the MQTT topics allow them."""
    return String(
        validate=Pattern(ID_PATTERN, error=f"Use {ID_RULE}."),
        metadata={"description": ID_RULE, **kwargs.pop("metadata", {})},
        **kwargs,
    )


def Text(*, max_length: int, required_text: bool = False, **kwargs: Any) -> String:
    """A string of at most `max_length` characters without NUL; with `required_text`
    it must also hold something besides white space."""
    pattern, error = (
        (NOT_BLANK, "Write something here (not only spaces); no NUL characters.")
        if required_text
        else (NO_NUL, "Remove the NUL characters.")
    )
    return String(
        validate=[Length(max=max_length), Pattern(pattern, error=error)],
        **kwargs,
    )


def Choice(values: list[str], **kwargs: Any) -> String:
    from apiflask.validators import OneOf

    return String(validate=OneOf(values), **kwargs)


class Whole(Integer):
    """A JSON integer (2 or 2.0, as JSON Schema counts them): not a string, not a boolean,
    not 2.5."""

    def __init__(self, *, minimum: int, maximum: int, **kwargs: Any) -> None:
        super().__init__(strict=True, validate=Range(minimum, maximum), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)
        return super()._deserialize(value, attr, data, **kwargs)


class Number(Float):
    """A finite JSON number in a range: not a string, not a boolean."""

    def __init__(self, *, minimum: float, maximum: float, **kwargs: Any) -> None:
        super().__init__(allow_nan=False, validate=Range(minimum, maximum), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class Flag(Boolean):
    """`true` or `false`, nothing that merely looks like one."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class Scalar(Field[Any]):
    """A command argument: a short string, a number, a boolean or null (`ds.command/1`
    carries no nested values)."""

    MAX_TEXT = 1000

    def __init__(self, **kwargs: Any) -> None:
        metadata = {
            "type": ["string", "number", "boolean"],  # allow_none adds "null"
            "maxLength": self.MAX_TEXT,
            "pattern": NO_NUL,
            "minimum": -INT64_MAX,
            "maximum": INT64_MAX,
            **kwargs.pop("metadata", {}),
        }
        super().__init__(allow_none=True, metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str):
            if len(value) > self.MAX_TEXT or NUL in value:
                raise ValidationError(f"Use at most {self.MAX_TEXT} characters, without NUL.")
            return value
        if isinstance(value, int | float):
            if not (math.isfinite(value) and -INT64_MAX <= value <= INT64_MAX):
                raise ValidationError(f"Use a number from {-INT64_MAX} to {INT64_MAX}.")
            return value
        raise ValidationError("Use a string, a number, true, false or null: no lists or objects.")
