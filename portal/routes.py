"""The portal's Flask routes: each reads the request, asks the `Splash` service and sends
what it answers. Nothing here decides what a visitor sees."""

from __future__ import annotations

import logging
import urllib.parse

from flask import Flask, Response, abort, request, send_file
from werkzeug.exceptions import HTTPException

from portal import detection, messages
from portal.fas import FasError
from portal.fast_path import RATE_CHECKED
from portal.i18n import Language
from portal.messages import Message
from portal.responses import Page, Redirect, security_headers
from portal.splash import Splash
from portal.view import SplashView

log = logging.getLogger(__name__)


def page_response(page: Page) -> Response:
    return Response(page.body, status=page.status, headers=list(page.headers))


def redirect_response(redirect: Redirect) -> Response:
    response = Response(status=redirect.status)
    response.headers["Location"] = redirect.location
    response.headers["Cache-Control"] = "no-store"
    _add_headers(response, security_headers((), ""))
    return response


def _add_headers(response: Response, headers: tuple[tuple[str, str], ...]) -> None:
    for name, value in headers:
        response.headers[name] = value


def form_query() -> str:
    """The visit's FAS query on the request's URL (the accept form posts with it)."""
    return urllib.parse.urlencode({k: request.args[k] for k in ("fas", "iv") if k in request.args})


def message_lang_href(code: str) -> str:
    if request.method == "POST":  # after /accept: back to the splash, with the visit
        query = form_query()
        return f"/?{query}&lang={code}" if query else f"/?lang={code}"
    return f"{request.path}?lang={code}"


def register_routes(app: Flask, splash: Splash) -> None:
    config = splash.config
    clock = splash.clock

    def request_language(view: SplashView, asked: str | None) -> Language:
        return splash.language(view, asked, request.headers.get("Accept-Language"))

    def message_response(message: Message) -> Response:
        view = splash.current_view(clock.now())
        language = request_language(view, request.args.get("lang"))
        return page_response(splash.message(view, language, message, message_lang_href))

    # --- hooks ---------------------------------------------------------------------------

    @app.before_request
    def rate_limit() -> Response | None:
        allowed = request.environ.get(RATE_CHECKED)
        if allowed is None:
            allowed = splash.rate_allowed(request.remote_addr)
        if allowed:
            return None
        response = message_response(messages.TOO_MANY_REQUESTS)
        response.headers["Retry-After"] = "2"
        return response

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        return message_response(
            messages.NOT_FOUND if status == 404 else messages.went_wrong(status)
        )

    # --- splash and accept -----------------------------------------------------------------

    @app.get("/", endpoint="splash")
    def splash_route() -> Response:
        try:
            return page_response(
                splash.splash_page(request.args, request.headers.get("Accept-Language"))
            )
        except FasError as error:
            log.info("bad FAS query (%s): %s", error.field, error.problem)
            return message_response(messages.BAD_LINK)

    @app.post("/accept")
    def accept() -> Response:
        answer = splash.accept(
            request.form,
            origin_header=request.headers.get("Origin"),
            host=request.host,
            accept_language=request.headers.get("Accept-Language"),
            query=form_query(),
            lang_href=message_lang_href,
        )
        if isinstance(answer, Redirect):
            return redirect_response(answer)
        return page_response(answer)

    @app.get("/online")
    def online() -> Response:
        return page_response(
            splash.online.online(request.args, request.headers.get("Accept-Language"))
        )

    @app.post("/feedback")
    def feedback() -> Response:
        return page_response(
            splash.online.answer(
                request.form,
                origin_header=request.headers.get("Origin"),
                host=request.host,
                accept_language=request.headers.get("Accept-Language"),
            )
        )

    @app.get("/privacy")
    def privacy() -> Response:
        return page_response(
            splash.online.privacy(request.args, request.headers.get("Accept-Language"))
        )

    @app.get("/venue")
    def venue() -> Response:
        view = splash.current_view(clock.now())
        return page_response(splash.venue(view, request_language(view, request.args.get("lang"))))

    # --- promo tracker and assets ------------------------------------------------------------

    @app.get("/go/<item_id>")
    def promo_click(item_id: str) -> Response:
        answer = splash.promo_click(item_id, request.args.get("c", ""), request.args.get("s", ""))
        if not isinstance(answer, Redirect):
            abort(answer)
        return redirect_response(answer)

    @app.get("/assets/<sha>")
    def asset(sha: str) -> Response:
        found = splash.asset(sha)
        if found is None:
            abort(404)
        path, content_type = found
        response = send_file(path, mimetype=content_type, max_age=31_536_000, conditional=True)
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        _add_headers(response, security_headers((), ""))
        return response

    @app.get("/static/portal.css")
    def stylesheet() -> Response:
        response = Response(splash.css_bytes, content_type="text/css; charset=utf-8")
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    # --- detection ---------------------------------------------------------------------------
    # The portal's URL comes from the configuration: a request's Host header is the
    # visitor's to choose (#13).

    def probe(kind: detection.Probe) -> Response:
        authorised, _ = splash.client_online(request.remote_addr)
        answer = detection.probe_answer(kind, authorised=authorised, portal_url=config.portal_url)
        response = Response(answer.body, status=answer.status)
        for name, value in answer.headers:
            response.headers[name] = value
        return response

    for path, kind in detection.PROBE_PATHS.items():
        app.add_url_rule(
            path, f"probe{path.replace('/', '_').replace('.', '_')}", lambda kind=kind: probe(kind)
        )

    @app.get("/api/captive")
    def captive_api() -> Response:
        authorised, remaining = splash.client_online(request.remote_addr)
        body = detection.captive_api(
            authorised=authorised,
            portal_url=config.portal_url,
            venue_info_url=f"{config.portal_url}venue",
            seconds_remaining=remaining,
        )
        response = Response(body, content_type=detection.CAPTIVE_JSON)
        response.headers["Cache-Control"] = "private, no-store"
        return response
