"""GET / straight from WSGI (#6).

GET / is nearly every request a portal gets (OS probes redirect here, mini-browsers
reload it). It is answered by `Splash.splash_page` without Flask's request context,
routing and response objects; the Flask route calls the same method, so headers, CSP,
escaping and events are the same. Anything else, including a rate-limited client or a
damaged FAS query, goes on to Flask.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING

import werkzeug.urls  # noqa: F401  (registers the "werkzeug.url_quote" codec error handler)

from portal.fas import FasError
from portal.splash import Splash

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

# Set on the requests passed on to Flask, so a request pays the rate limiter once.
RATE_CHECKED = "ds.portal.rate_allowed"


def first_values(query_string: str) -> dict[str, str]:
    """A WSGI QUERY_STRING parsed as Flask's `request.args.get` sees it (first value wins;
    undecodable bytes stay percent-encoded); UnicodeDecodeError for non-UTF-8 raw bytes."""
    pairs = urllib.parse.parse_qsl(
        query_string.encode("latin-1").decode(),
        keep_blank_values=True,
        errors="werkzeug.url_quote",
    )
    args: dict[str, str] = {}
    for key, value in pairs:
        args.setdefault(key, value)
    return args


def _text(environ: WSGIEnvironment, key: str) -> str | None:
    value = environ.get(key)
    return value if isinstance(value, str) else None


def with_fast_path(splash: Splash, flask_wsgi: WSGIApplication) -> WSGIApplication:
    """`flask_wsgi` with GET / answered in front of it."""

    def wsgi(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "GET" and environ.get("PATH_INFO") == "/":
            allowed = splash.rate_allowed(_text(environ, "REMOTE_ADDR"))
            environ[RATE_CHECKED] = allowed
            if allowed:
                try:
                    page = splash.splash_page(
                        first_values(_text(environ, "QUERY_STRING") or ""),
                        _text(environ, "HTTP_ACCEPT_LANGUAGE"),
                    )
                except (FasError, UnicodeDecodeError):
                    page = None
                if page is not None:
                    status = HTTPStatus(page.status)
                    start_response(f"{status.value} {status.phrase}", list(page.headers))
                    return [page.body]  # a list: Granian sends it in one write
        return flask_wsgi(environ, start_response)

    return wsgi
