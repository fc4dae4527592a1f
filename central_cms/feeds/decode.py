"""Bytes to text for a feed body, honest about the charset (pure).

A source that declares one charset and sends another must not reach screens as mojibake
("CafÃ©"): text that is not valid in the charset the server declared is refused, and so is
UTF-8 labelled as Latin-1 (which decodes without error, but wrongly). Without a declared
charset the body's BOM, its XML prolog, then UTF-8, then Windows-1252 decide.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass

_XML_PROLOG = re.compile(rb"""^\s*<\?xml[^>]*\bencoding=["']([A-Za-z0-9._-]+)["']""")
_SINGLE_BYTE_WESTERN = {"latin-1", "iso8859-1", "cp1252", "ascii", "iso8859-15"}


class UndecodableFeed(ValueError):
    """The body is not text in any charset we can be sure of; the message is for staff."""


@dataclass(frozen=True)
class DecodedText:
    text: str
    charset: str  # the codec's name, as Python spells it


def _codec(name: str) -> str | None:
    try:
        return codecs.lookup(name.strip().strip("\"'")).name
    except LookupError:
        return None


def _declared_in_body(body: bytes) -> str | None:
    for bom, name in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if body.startswith(bom):
            return name
    found = _XML_PROLOG.match(body[:200])
    return found.group(1).decode("ascii") if found else None


def _looks_like_text(text: str) -> bool:
    """No C0/C1 control characters (besides tab and line ends) and no U+FFFD: what a wrong
    charset leaves behind."""
    for char in text:
        if char in "\t\n\r":
            continue
        if char == "\ufffd" or unicodedata.category(char) == "Cc":
            return False
    return True


def _is_multibyte_utf8(body: bytes) -> bool:
    if body.isascii():
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def decode_body(body: bytes, declared: str | None) -> DecodedText:
    """`declared`: the charset parameter of the response's Content-Type, if any."""
    label = declared or _declared_in_body(body)
    if label:
        codec = _codec(label)
        if codec is None:
            raise UndecodableFeed(f"the source declares an unknown charset {label!r}")
        if codec in _SINGLE_BYTE_WESTERN and _is_multibyte_utf8(body):
            raise UndecodableFeed(
                f"the source says its text is {label} but sends UTF-8: "
                "ask its owner to declare charset=utf-8"
            )
        try:
            text = body.decode(codec)
        except UnicodeDecodeError as error:
            raise UndecodableFeed(
                f"the source says its text is {label} but byte {error.start} is not valid "
                f"{label}: ask its owner to declare the charset it really sends"
            ) from None
        if not _looks_like_text(text):
            raise UndecodableFeed(f"the text is not readable as {label} (control characters)")
        return DecodedText(text.removeprefix("\ufeff"), codec)
    try:
        return _checked(body.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        pass
    # Undeclared and not UTF-8: the legacy charset of Western sources, if it reads as
    # text (sniffers guess wildly on a short body; a wrong guess is the mojibake we avoid).
    try:
        return _checked(body.decode("cp1252"), "cp1252")
    except UnicodeDecodeError:
        raise UndecodableFeed(
            "the body is neither UTF-8 nor Windows-1252 and declares no charset"
        ) from None


def _checked(text: str, charset: str) -> DecodedText:
    if not _looks_like_text(text):
        raise UndecodableFeed(f"the text is not readable as {charset} (control characters)")
    return DecodedText(text.removeprefix("\ufeff"), charset)
