"""Rendering the splash cheaply: each (splash view, language) is rendered once with
placeholders, and a request only fills in its own signed state and tracker signatures."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

import jinja2
from babel.dates import get_day_names

from portal.i18n import LANGUAGES, Language, offered
from portal.view import SplashView, in_language

M_STATE = "\x00state\x00"
M_QUERY = "\x00query\x00"
M_CLIENT = "\x00client\x00"
_WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def tag_marker(item_id: str) -> str:
    return f"\x00tag:{item_id}\x00"


@dataclass(frozen=True)
class PageStyle:
    css: str
    csp_hash: str  # for style-src


def page_style(view: SplashView) -> PageStyle:
    rules = [f"header.brand{{background:{view.brand_colour};color:{view.brand_text}}}"]
    for index, promo in enumerate(view.promos, start=1):
        rules.append(f".promo-{index}{{background:{promo.background};color:{promo.foreground}}}")
    css = "".join(rules)
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    return PageStyle(css, f"'sha256-{digest}'")


def day_names(code: str) -> dict[str, str]:
    names = get_day_names("wide", locale=LANGUAGES[code].tag.replace("-", "_"))
    return {day: str(names[index]) for index, day in enumerate(_WEEK)}


@dataclass(frozen=True)
class Chrome:
    """What every page shares: site name, languages, stylesheet, logo."""

    site_name: str
    languages: tuple[Language, ...]
    css_url: str
    logo_url: str | None
    style: PageStyle | None

    def context(self, language: Language) -> dict[str, object]:
        """The template variables of the page frame (templates/base.html), in `language`."""
        return {
            "site_name": self.site_name,
            "languages": self.languages,
            "language": language,
            "css_url": self.css_url,
            "logo_url": self.logo_url,
            "style_block": self.style.css if self.style else "",
        }


def terms_in(view: SplashView, code: str) -> tuple[str, str]:
    """The terms' text to show in language `code`, and the language tag of the text when
    it is another's ("" when it is in `code`, or when the built-in wording is used)."""
    text = view.terms_text.get(code, "")
    if text or not view.terms_text:
        return text, ""
    fallback = "en" if "en" in view.terms_text else sorted(view.terms_text)[0]
    return view.terms_text[fallback], LANGUAGES.get(fallback, LANGUAGES["en"]).tag


def render_splash(
    env: jinja2.Environment,
    view: SplashView,
    chrome: Chrome,
    language: Language,
    *,
    has_client: bool,
    state: str,
    query: str,
    client: str,
    tags: Mapping[str, str],
    asset_url: Callable[[str], str],
    accept_url: str,
    errors: Mapping[str, str] | None = None,
    values: Mapping[str, str] | None = None,
    notice: str = "",
) -> str:
    terms_text, terms_lang = terms_in(view, language.code)

    # Root-relative, and the form posts with the visit's query too: a page re-rendered by
    # POST /accept keeps a working switcher (a relative "?lang=" would GET /accept).
    def lang_href(code: str) -> str:
        return f"/?{query}&lang={code}" if query else f"/?lang={code}"

    if query:
        accept_url = f"{accept_url}?{query}"

    def promo_href(item_id: str) -> str:
        return f"/go/{item_id}?c={client}&s={tags.get(item_id, '')}"

    return env.get_template("splash.html").render(
        view=in_language(view, language.code),
        **chrome.context(language),
        has_client=has_client,
        state=state,
        lang_href=lang_href,
        promo_href=promo_href,
        asset_url=asset_url,
        accept_url=accept_url,
        errors=errors or {},
        values=values or {},
        notice=notice,
        terms_text=terms_text,
        terms_lang=terms_lang,
        day_names=day_names(language.code),
    )


def render_splash_without_visitor(
    env: jinja2.Environment,
    view: SplashView,
    chrome: Chrome,
    language: Language,
    *,
    asset_url: Callable[[str], str],
    accept_url: str,
) -> str:
    """The splash before a visitor is known (no client, no signed state): the cached
    page's copy for a bare visit, and the CMS's preview of a site's splash."""
    return render_splash(
        env,
        view,
        chrome,
        language,
        has_client=False,
        state="",
        query="",
        client="",
        tags={},
        asset_url=asset_url,
        accept_url=accept_url,
    )


def render_message(
    env: jinja2.Environment,
    chrome: Chrome,
    language: Language,
    *,
    heading: str,
    lines: tuple[str, ...],
    lang_href: Callable[[str], str],
    link_href: str = "",
    link_text: str = "",
) -> str:
    return env.get_template("message.html").render(
        **chrome.context(language),
        heading=heading,
        lines=lines,
        lang_href=lang_href,
        link_href=link_href,
        link_text=link_text,
    )


@dataclass(frozen=True)
class CachedSplash:
    view: SplashView
    chrome: Chrome
    language: Language
    with_client: str  # rendered with placeholders
    without_client: str  # a visit without FAS parameters (nothing per request)
    parts: tuple[str, ...] = ()  # with_client split at its placeholders, for fill_parts

    def __post_init__(self) -> None:
        if not self.parts:
            object.__setattr__(self, "parts", split_markers(self.with_client))


class SplashCache:
    """Per process: the current view and its pages by language, rebuilt when the snapshot
    changes or the view's `valid_until` passes (a promotion's window opens or closes)."""

    def __init__(self, build_view: Callable[[datetime], tuple[int, SplashView]]) -> None:
        self._build_view = build_view
        self._lock = threading.Lock()
        self._generation = -1
        self._view: SplashView | None = None
        self._built_at: datetime | None = None
        self._pages: dict[str, CachedSplash] = {}

    def view(self, generation: int, now: datetime) -> SplashView:
        with self._lock:
            view = self._view
            if (
                view is None
                or generation != self._generation
                or (view.valid_until is not None and now >= view.valid_until)
                or (self._built_at is not None and now < self._built_at)  # clock stepped back
            ):
                self._generation, view = self._build_view(now)
                self._built_at = now
                if self._view is None or view.key != self._view.key:
                    self._pages.clear()
                self._view = view
            return view

    def page(
        self, view: SplashView, code: str, build: Callable[[SplashView, str], CachedSplash]
    ) -> CachedSplash:
        with self._lock:
            cached = self._pages.get(code)
            if cached is not None and cached.view is view:
                return cached
        page = build(view, code)
        with self._lock:
            if self._view is view:
                self._pages[code] = page
        return page


_MARKER = re.compile("\x00([a-z]+(?::[a-z0-9-]+)?)\x00")


def split_markers(page: str) -> tuple[str, ...]:
    """Text and placeholder names alternating: text, name, text, ..., text. Placeholders
    cannot come from content: view text is stripped of NUL before it is rendered."""
    return tuple(_MARKER.split(page))


def fill_parts(
    parts: tuple[str, ...], *, state: str, query: str, client: str, tags: Mapping[str, str]
) -> str:
    """`fill` in one pass over a page pre-split by `split_markers`. Every value is escaped
    here; a placeholder without a value (a promo without a link) becomes empty."""
    values = {"state": html.escape(state), "query": html.escape(query)}
    values["client"] = html.escape(client)
    for item_id, tag in tags.items():
        values[f"tag:{item_id}"] = html.escape(tag)
    out = list(parts)
    for index in range(1, len(out), 2):
        out[index] = values.get(out[index], "")
    return "".join(out)


def fill(page: str, *, state: str, query: str, client: str, tags: Mapping[str, str]) -> str:
    """Put one request's values into a cached page. Every value is escaped here."""
    page = page.replace(M_STATE, html.escape(state)).replace(M_QUERY, html.escape(query))
    page = page.replace(M_CLIENT, html.escape(client))
    for item_id, tag in tags.items():
        page = page.replace(tag_marker(item_id), html.escape(tag))
    return page


def chrome_for(view: SplashView, css_url: str, logo_url: str | None) -> Chrome:
    return Chrome(
        site_name=view.site_name,
        languages=offered(view.languages),
        css_url=css_url,
        logo_url=logo_url,
        style=page_style(view),
    )
