"""Which language a page is shown in. Pure: the asked ``?lang=``, then the browser's
Accept-Language, then the node's default, among the languages the page offers."""

from __future__ import annotations

import functools

from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from portal.i18n import LANGUAGES, Language

# Longer Accept-Language values are parsed without the cache, so a client cannot fill it
# with junk of its own making.
_CACHED_HEADER_CHARS = 256


@functools.lru_cache(maxsize=256)
def _negotiated(accept_language: str, codes: tuple[str, ...]) -> str | None:
    # Phones send a handful of distinct Accept-Language values: parse each once.
    return parse_accept_header(accept_language, LanguageAccept).best_match(codes)


def choose_language(
    codes: tuple[str, ...], asked: str | None, accept_language: str | None, default: str
) -> Language:
    """The language among `codes` (offered, English always among them) for a visitor who
    asked for `asked` and whose browser sent `accept_language`."""
    if asked:
        base = asked.split("_")[0].split("-")[0].lower()
        if base in codes:
            return LANGUAGES[base]
    best = None
    if accept_language:
        best = (
            _negotiated(accept_language, codes)
            if len(accept_language) <= _CACHED_HEADER_CHARS
            else _negotiated.__wrapped__(accept_language, codes)
        )
    if best is None:
        best = default if default in codes else "en"
    return LANGUAGES[best]
