"""`choose_language` on its own: ?lang= first, then the browser, then the node's default."""

from __future__ import annotations

from portal.languages import choose_language

OFFERED = ("en", "zh", "vi", "ar")


def code(asked: str | None, accept_language: str | None, default: str = "en") -> str:
    return choose_language(OFFERED, asked, accept_language, default).code


def test_asked_language_wins_over_the_browser_in_any_spelling():
    assert code("zh", "vi") == "zh"
    assert code("ZH-hans", "vi") == "zh"
    assert code("ar_AE", None) == "ar"


def test_language_not_offered_falls_back_to_the_browsers_choice():
    assert code("it", "vi;q=0.5, ar") == "ar"


def test_without_a_match_the_nodes_default_is_used_if_offered_else_english():
    assert code(None, "de-DE", default="vi") == "vi"
    assert code(None, None, default="it") == "en"


def test_an_overlong_accept_language_still_negotiates():
    assert code(None, "x" * 300 + ", zh") == "zh"
