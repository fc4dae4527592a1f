"""The captive-portal web app (Flask): splash, accept, promo tracker, probes, RFC 8908.

No cookies and no JavaScript: the visitor's state travels in signed form fields, so the
page works in the iOS/Android captive-portal mini-browsers. `create_app` builds the app
from what it is handed; there is no module-level state.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import secrets
import threading
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import werkzeug.urls  # noqa: F401  (registers the "werkzeug.url_quote" codec error handler)
from flask import Flask, Response, abort, request, send_file
from werkzeug.datastructures import LanguageAccept
from werkzeug.exceptions import HTTPException
from werkzeug.http import parse_accept_header

from devices.app import AssetStore
from devices.clock import Clock
from devices.protocol import (
    PromoClickedData,
    PromoShownData,
    SplashShownData,
    TermsAcceptedData,
)
from portal import detection
from portal.config import PortalConfig
from portal.fas import MAX_QUERY_CHARS, FasClient, FasError, parse_query
from portal.gateway import Gateway
from portal.i18n import LANGUAGES, Language, environments, translations
from portal.pages import (
    M_CLIENT,
    M_QUERY,
    M_STATE,
    CachedSplash,
    Chrome,
    SplashCache,
    chrome_for,
    fill_parts,
    render_message,
    render_splash,
    tag_marker,
)
from portal.privacy import client_hash, visitor_hash
from portal.ratelimit import RateLimiter
from portal.redirects import safe_redirect
from portal.sources import (
    DroppingNewsletter,
    ManifestSource,
    NewsletterSignup,
    NewsletterSink,
    Recorder,
)
from portal.state import MemoryNonceStore, NonceStore, Signer, StateError
from portal.view import SplashView, splash_view

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).with_name("static")
_EMAIL = re.compile(r"^[^@\s<>\"']{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_SHA = re.compile(r"^[0-9a-f]{64}$")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_HASH = re.compile(r"^[0-9a-f]{16,64}$")
_DEDUPE_S = 1800.0
# How often a web worker forgets used accept forms whose state has expired anyway: without
# it the node's nonce store grew with every visitor, for ever (issue 13).
NONCE_PURGE_S = 600.0
_ACCEPT_PURPOSE = "accept"
_PROMO_PURPOSE = "promo"


class _SeenRecently:
    """Per process: has this key been counted in the last `ttl_s`? (impression dedupe:
    a visitor reloading the splash is one splash shown, not ten)."""

    def __init__(self, ttl_s: float, max_entries: int = 50_000) -> None:
        self._ttl_s = ttl_s
        self._max = max_entries
        self._seen: OrderedDict[tuple[str, ...], float] = OrderedDict()
        self._lock = threading.Lock()

    def first(self, key: tuple[str, ...], now: float) -> bool:
        with self._lock:
            at = self._seen.get(key)
            if at is not None and now - at < self._ttl_s:
                return False
            self._seen[key] = now
            self._seen.move_to_end(key)
            while len(self._seen) > self._max:
                self._seen.popitem(last=False)
            return True


@functools.lru_cache(maxsize=256)
def security_headers(form_targets: tuple[str, ...], style_hash: str) -> tuple[tuple[str, str], ...]:
    """The headers every page carries; built once per (form targets, inline style)."""
    form_action = " ".join(("'self'", *form_targets))
    style = f"'self' {style_hash}".strip()
    return (
        (
            "Content-Security-Policy",
            f"default-src 'none'; img-src 'self'; style-src {style}; "
            f"form-action {form_action}; base-uri 'none'; frame-ancestors 'none'",
        ),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "no-referrer"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Cross-Origin-Resource-Policy", "same-origin"),
        ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
    )


def _security_headers(response: Response, form_targets: tuple[str, ...], style_hash: str) -> None:
    for name, value in security_headers(form_targets, style_hash):
        response.headers[name] = value


@dataclass(frozen=True)
class Page:
    """A response decided without Flask (the splash's fast path, #6)."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def response(self) -> Response:
        return Response(self.body, status=self.status, headers=list(self.headers))


@dataclass(frozen=True)
class Visit:
    """What one FAS query tells the splash: the client, where it may be sent back to, the
    CSP form targets and the query to carry in the page's links."""

    client: FasClient
    origin: str | None
    form_targets: tuple[str, ...]
    query: str


_RATE_CHECKED = "ds.portal.rate_allowed"  # set by the fast path, so a request pays once


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


def N_(message: str) -> str:
    """Marks a message for extraction; it is translated where it is shown."""
    return message


def _origin_of(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def create_app(
    config: PortalConfig,
    *,
    gateway: Gateway,
    manifest_source: ManifestSource,
    recorder: Recorder,
    clock: Clock,
    assets: AssetStore | None = None,
    nonces: NonceStore | None = None,
    newsletter: NewsletterSink | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    fallback_name: str = "Free Wi-Fi",
) -> Flask:
    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = 16 * 1024
    signer = Signer(config.secret)
    limiter = RateLimiter(config.rate_per_s, config.rate_burst)
    nonce_store = nonces if nonces is not None else MemoryNonceStore()
    sink = newsletter if newsletter is not None else DroppingNewsletter()
    envs = environments()
    seen = _SeenRecently(_DEDUPE_S)
    css_bytes = (STATIC_DIR / "portal.css").read_bytes()
    css_url = f"/static/portal.css?v={hashlib.sha256(css_bytes).hexdigest()[:12]}"

    purge_lock = threading.Lock()
    purge_due: list[float] = [float("-inf")]  # the first accept clears what a restart left

    def purge_used_nonces(now: float) -> None:
        """On the injected clock, at most every NONCE_PURGE_S per worker (the store is
        shared, so any worker's purge serves them all)."""
        with purge_lock:
            due = purge_due[0]
            if due - NONCE_PURGE_S <= now < due:  # not yet due, and the clock did not step back
                return
            purge_due[0] = now + NONCE_PURGE_S
        removed = nonce_store.purge(now)
        if removed:
            log.debug("forgot %s used accept forms", removed)

    def build_view(now: datetime) -> tuple[int, SplashView]:
        snap = manifest_source.snapshot()
        return snap.generation, splash_view(
            snap.manifest, snap.alerts, now, fallback_name=fallback_name
        )

    cache = SplashCache(build_view)

    def asset_url(sha: str) -> str:
        return f"/assets/{sha}"

    def current_view(now: datetime) -> SplashView:
        return cache.view(manifest_source.snapshot().generation, now)

    chrome_memo: list[tuple[SplashView, Chrome]] = []

    def chrome(view: SplashView) -> Chrome:
        """Per view, computed once (stylesheet hash, languages): the splash is hot."""
        memo = chrome_memo[:1]
        if memo and memo[0][0] is view:
            return memo[0][1]
        logo = asset_url(view.logo_sha256) if view.logo_sha256 else None
        look = chrome_for(view, css_url, logo)
        chrome_memo[:] = [(view, look)]
        return look

    @functools.lru_cache(maxsize=256)
    def negotiated(accept_language: str, codes: tuple[str, ...]) -> str | None:
        # Phones send a handful of distinct Accept-Language values: parse each once.
        return parse_accept_header(accept_language, LanguageAccept).best_match(codes)

    def pick_language(view: SplashView, asked: str | None, accept_language: str | None) -> Language:
        codes = tuple(language.code for language in chrome(view).languages)
        if asked:
            base = asked.split("_")[0].split("-")[0].lower()
            if base in codes:
                return LANGUAGES[base]
        best = None
        if accept_language:
            best = (
                negotiated(accept_language, codes)
                if len(accept_language) <= 256
                else negotiated.__wrapped__(accept_language, codes)
            )
        if best is None:
            default = config.default_language
            best = default if default in codes else "en"
        return LANGUAGES[best]

    def request_language(view: SplashView, asked: str | None) -> Language:
        return pick_language(view, asked, request.headers.get("Accept-Language"))

    def build_page(view: SplashView, code: str) -> CachedSplash:
        look = chrome(view)
        language = LANGUAGES[code]
        common = {
            "asset_url": asset_url,
            "accept_url": "/accept",
        }
        with_client = render_splash(
            envs[code],
            view,
            look,
            language,
            has_client=True,
            state=M_STATE,
            query=M_QUERY,
            client=M_CLIENT,
            tags={promo.item_id: tag_marker(promo.item_id) for promo in view.promos},
            **common,  # type: ignore[arg-type]
        )
        without = render_splash(
            envs[code],
            view,
            look,
            language,
            has_client=False,
            state="",
            query="",
            client="",
            tags={},
            **common,  # type: ignore[arg-type]
        )
        return CachedSplash(view, look, language, with_client, without)

    catalogues = {code: translations(code) for code in LANGUAGES}

    def gettext(code: str, message: str) -> str:
        return str(catalogues[code].gettext(message))

    def message_lang_href(code: str) -> str:
        if request.method == "POST":  # after /accept: back to the splash, with the visit
            query = form_query()
            return f"/?{query}&lang={code}" if query else f"/?lang={code}"
        return f"{request.path}?lang={code}"

    def message_page(
        view: SplashView,
        language: Language,
        status: int,
        heading: str,
        *lines: str,
        link: tuple[str, str] | None = None,
    ) -> Response:
        code = language.code
        page = render_message(
            envs[code],
            chrome(view),
            language,
            heading=gettext(code, heading),
            lines=tuple(gettext(code, line) for line in lines),
            lang_href=lambda other: message_lang_href(other),
            link_href=link[0] if link else "",
            link_text=gettext(code, link[1]) if link else "",
        )
        response = Response(page, status=status, content_type="text/html; charset=utf-8")
        response.headers["Cache-Control"] = "no-store"
        _security_headers(response, (), chrome(view).style.csp_hash if chrome(view).style else "")  # type: ignore[union-attr]
        return response

    @functools.lru_cache(maxsize=4096)
    def hashes_on(mac: str, day: date) -> tuple[str, str]:
        # Both pseudonyms depend only on the MAC and the UTC date (privacy.py), and the
        # splash and its impressions ask for them on every request.
        at = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return (
            client_hash(config.secret, mac, at),
            visitor_hash(config.secret, mac, at, config.visitor_period_days),
        )

    def hashes(client: FasClient, now: datetime) -> tuple[str, str]:
        return hashes_on(client.client_mac, now.astimezone(UTC).date())

    @functools.lru_cache(maxsize=4096)
    def promo_tag(item_id: str, visitor: str) -> str:
        return signer.tag(_PROMO_PURPOSE, item_id, visitor)

    def form_targets(client: FasClient, origin: str | None) -> tuple[str, ...]:
        # CSP form-action also governs the redirects after the form is sent: to the
        # gateway's auth URL, then to the page the visitor was intercepted on.
        targets = [f"http://{client.gateway_address}"]
        if origin:
            targets.append(_origin_of(origin))
        return tuple(dict.fromkeys(targets))

    @functools.lru_cache(maxsize=512)
    def visit_of(fas: str, iv: str | None) -> Visit:
        """Decrypt and check a FAS query once: the OS probe, the mini-browser and reloads
        repeat the same query, and AES plus the field checks are the splash's dearest step.
        A query that fails raises FasError and is not cached."""
        query = {"fas": fas} if iv is None else {"fas": fas, "iv": iv}
        client = parse_query(query, level=config.fas_level, faskey=config.faskey)
        if config.gateway_addresses and client.gateway_address not in config.gateway_addresses:
            raise FasError("gatewayaddress", "not this node's gateway")
        origin = safe_redirect(client.origin_url)
        return Visit(client, origin, form_targets(client, origin), urllib.parse.urlencode(query))

    def visit_in(args: Mapping[str, str]) -> Visit | None:
        """The FAS query in `args`, or None when the visitor came without one."""
        fas = args.get("fas")
        if fas is None:
            return None
        if len(fas) > MAX_QUERY_CHARS:
            raise FasError("fas", "too long")
        return visit_of(fas, args.get("iv"))

    def state_for(client: FasClient, origin: str | None, view: SplashView, now: datetime) -> str:
        return signer.sign(
            _ACCEPT_PURPOSE,
            {
                "h": client.hid,
                "ip": client.client_ip,
                "m": client.client_mac,
                "g": client.gateway_address,
                "d": client.auth_dir,
                "n": client.gateway_name,
                "o": origin or "",
                "v": view.terms_version,
                "t": int(now.timestamp()),
                "x": secrets.token_urlsafe(12),
            },
        )

    def client_from_state(state: Mapping[str, str]) -> FasClient:
        return FasClient(
            hid=state["h"],
            client_ip=state["ip"],
            client_mac=state["m"],
            gateway_address=state["g"],
            gateway_name=state.get("n", ""),
            origin_url=state.get("o", ""),
            auth_dir=state.get("d", "opennds_auth"),
        )

    def html_page(status: int, body: str, headers: Iterable[tuple[str, str]]) -> Page:
        data = body.encode()
        return Page(
            status,
            (
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Length", str(len(data))),
                ("Cache-Control", "no-store"),
                *headers,
            ),
            data,
        )

    def splash_response(
        view: SplashView,
        language: Language,
        client: FasClient,
        origin: str | None,
        query: str,
        now: datetime,
        *,
        status: int = 200,
        state: str | None = None,
        errors: Mapping[str, str] | None = None,
        values: Mapping[str, str] | None = None,
        notice: str = "",
        targets: tuple[str, ...] | None = None,
    ) -> Page:
        token = state or state_for(client, origin, view, now)
        visitor = hashes(client, now)[0]
        tags = {
            promo.item_id: promo_tag(promo.item_id, visitor)
            for promo in view.promos
            if promo.has_link
        }
        if errors or notice:
            body = render_splash(
                envs[language.code],
                view,
                chrome(view),
                language,
                has_client=True,
                state=token,
                query=query,
                client=visitor,
                tags=tags,
                asset_url=asset_url,
                accept_url="/accept",
                errors=errors,
                values=values,
                notice=notice,
            )
        else:
            page = cache.page(view, language.code, build_page)
            body = fill_parts(page.parts, state=token, query=query, client=visitor, tags=tags)
        style = chrome(view).style
        return html_page(
            status,
            body,
            security_headers(
                targets if targets is not None else form_targets(client, origin),
                style.csp_hash if style else "",
            ),
        )

    def splash_page(args: Mapping[str, str], accept_language: str | None) -> Page:
        """GET /: the same answer from the fast path and from Flask. FasError when the
        FAS query is damaged (Flask then renders the message page)."""
        now = clock.now()
        view = current_view(now)
        language = pick_language(view, args.get("lang"), accept_language)
        visit = visit_in(args)
        if visit is None:
            page = cache.page(view, language.code, build_page)
            style = page.chrome.style
            return html_page(
                200, page.without_client, security_headers((), style.csp_hash if style else "")
            )
        record_impressions(visit.client, view, language, now)
        return splash_response(
            view, language, visit.client, visit.origin, visit.query, now, targets=visit.form_targets
        )

    def record_impressions(
        client: FasClient, view: SplashView, language: Language, now: datetime
    ) -> None:
        client_h, visitor_h = hashes(client, now)
        tick = monotonic()
        if seen.first(("splash", client_h, language.code), tick):
            recorder.record(
                SplashShownData(
                    client_hash=client_h, visitor_hash=visitor_h, language=language.code
                )
            )
        for promo in view.promos:
            if seen.first(("promo", client_h, promo.item_id), tick):
                recorder.record(
                    PromoShownData(
                        client_hash=client_h, item_id=promo.item_id, campaign_id=promo.campaign_id
                    )
                )

    # --- hooks ---------------------------------------------------------------------------

    @app.before_request
    def rate_limit() -> Response | None:
        allowed = request.environ.get(_RATE_CHECKED)
        if allowed is None:
            allowed = limiter.allow(request.remote_addr or "?", monotonic())
        if allowed:
            return None
        now = clock.now()
        view = current_view(now)
        response = message_page(
            view,
            request_language(view, request.args.get("lang")),
            429,
            N_("Too many requests"),
            N_("This device sent too many requests in a short time."),
            N_("Please wait a few seconds, then try again."),
        )
        response.headers["Retry-After"] = "2"
        return response

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        now = clock.now()
        view = current_view(now)
        language = request_language(view, request.args.get("lang"))
        status = error.code or 500
        if status == 404:
            return message_page(
                view,
                language,
                404,
                N_("Page not found"),
                N_("This page does not exist."),
                link=("/", N_("Go to the start page")),
            )
        return message_page(
            view,
            language,
            status,
            N_("Something went wrong"),
            N_("Please open any website to start again."),
        )

    # --- splash and accept -----------------------------------------------------------------

    @app.get("/")
    def splash() -> Response:
        try:
            return splash_page(request.args, request.headers.get("Accept-Language")).response()
        except FasError as error:
            log.info("bad FAS query (%s): %s", error.field, error.problem)
            view = current_view(clock.now())
            return message_page(
                view,
                request_language(view, request.args.get("lang")),
                400,
                N_("This sign-in link is not valid"),
                N_("The link may be damaged or out of date."),
                N_("Please open any website again to get a fresh sign-in page."),
            )

    def form_query() -> str:
        return urllib.parse.urlencode(
            {k: request.args[k] for k in ("fas", "iv") if k in request.args}
        )

    @app.post("/accept")
    def accept() -> Response:
        now = clock.now()
        view = current_view(now)
        form = request.form
        language = request_language(view, form.get("lang"))
        origin_header = request.headers.get("Origin")
        if (
            origin_header
            and origin_header != "null"
            and urllib.parse.urlsplit(origin_header).netloc != request.host
        ):
            log.info("accept refused: cross-site Origin %s", origin_header[:100])
            return message_page(
                view,
                language,
                403,
                N_("This form was not sent from this page"),
                N_("Please open any website to start again."),
            )
        try:
            state = signer.verify(
                _ACCEPT_PURPOSE, form.get("state", ""), now=now, max_age_s=config.state_max_age_s
            )
            client = client_from_state(state)
        except (StateError, KeyError) as error:
            log.info("accept refused: %s", error)
            return message_page(
                view,
                language,
                400,
                N_("This page has expired"),
                N_("For your security the sign-in page is valid for a limited time."),
                N_("Please open any website again to get a fresh sign-in page."),
            )
        values = {
            "accept": "yes" if form.get("accept") == "yes" else "",
            "newsletter": "yes" if form.get("newsletter") == "yes" else "",
            "email": form.get("email", "")[:254].strip(),
        }
        errors: dict[str, str] = {}
        code = language.code
        if state.get("v") != view.terms_version or form.get("terms_version") != view.terms_version:
            return splash_response(
                view,
                language,
                client,
                safe_redirect(client.origin_url),
                form_query(),
                now,
                status=409,
                values=values,
                notice=gettext(
                    code, N_("The terms of use have changed. Please read them and accept again.")
                ),
            ).response()
        if form.get("accept") != "yes":
            errors["accept"] = gettext(code, N_("Tick the box to accept the terms of use."))
        if view.newsletter and values["newsletter"] and not _EMAIL.match(values["email"]):
            errors["email"] = gettext(
                code,
                N_("Enter an email address like name@example.com, or untick the newsletter box."),
            )
        if errors:
            return splash_response(
                view,
                language,
                client,
                safe_redirect(client.origin_url),
                form_query(),
                now,
                status=400,
                state=form.get("state"),
                errors=errors,
                values=values,
            ).response()
        if not gateway.verify(client):
            log.info("accept refused: gateway does not know client %s", client.client_ip)
            return message_page(
                view,
                language,
                400,
                N_("We could not recognise your device"),
                N_("Please open any website again to get a fresh sign-in page."),
            )
        purge_used_nonces(now.timestamp())
        if not nonce_store.use_once(state["x"], now.timestamp() + config.state_max_age_s):
            log.info("accept refused: form replayed")
            return message_page(
                view,
                language,
                400,
                N_("This form was already sent"),
                N_(
                    "If you are not online yet, open any website again to get a fresh sign-in page."
                ),
            )
        origin = safe_redirect(state.get("o"))
        redirect_to = origin or f"/online?lang={code}"
        target = gateway.authorise(client, redirect_to)
        client_h, visitor_h = hashes(client, now)
        opted_in = bool(view.newsletter and values["newsletter"])
        recorder.record(
            TermsAcceptedData(
                client_hash=client_h,
                visitor_hash=visitor_h,
                terms_version=view.terms_version,
                language=code,
                newsletter_opt_in=opted_in,
            )
        )
        if opted_in:
            sink.submit(NewsletterSignup(values["email"], view.site_id, code, view.terms_version))
        response = Response(status=303)
        response.headers["Location"] = target
        response.headers["Cache-Control"] = "no-store"
        _security_headers(response, (), "")
        return response

    @app.get("/online")
    def online() -> Response:
        now = clock.now()
        view = current_view(now)
        language = request_language(view, request.args.get("lang"))
        return message_page(
            view,
            language,
            200,
            N_("You are online"),
            N_("Enjoy the free Wi-Fi. You can close this page."),
        )

    @app.get("/venue")
    def venue() -> Response:
        now = clock.now()
        view = current_view(now)
        language = request_language(view, request.args.get("lang"))
        page = cache.page(view, language.code, build_page)
        response = Response(page.without_client, content_type="text/html; charset=utf-8")
        style = page.chrome.style
        _security_headers(response, (), style.csp_hash if style else "")
        return response

    # --- promo tracker and assets ------------------------------------------------------------

    @app.get("/go/<item_id>")
    def promo_click(item_id: str) -> Response:
        clock.now()
        visitor = request.args.get("c", "")
        tag = request.args.get("s", "")
        if not _ID.match(item_id) or not _HASH.match(visitor):
            abort(400)
        if not signer.check_tag(_PROMO_PURPOSE, tag, item_id, visitor):
            abort(400)
        manifest = manifest_source.snapshot().manifest
        items = (
            {item.id: item for item in (*manifest.items, *manifest.default_items)}
            if manifest
            else {}
        )
        item = items.get(item_id)
        target = safe_redirect(item.link_url) if item else None
        if item is None or target is None:
            abort(404)
        recorder.record(
            PromoClickedData(client_hash=visitor, item_id=item.id, campaign_id=item.campaign_id)
        )
        response = Response(status=302)
        response.headers["Location"] = target
        response.headers["Cache-Control"] = "no-store"
        _security_headers(response, (), "")
        return response

    @app.get("/assets/<sha>")
    def asset(sha: str) -> Response:
        manifest = manifest_source.snapshot().manifest
        if not _SHA.match(sha) or manifest is None or assets is None:
            abort(404)
        try:
            ref = manifest.asset(sha)
        except KeyError:
            abort(404)
        path = assets.path(sha)
        if path is None or not ref.content_type.startswith("image/"):
            abort(404)
        response = send_file(path, mimetype=ref.content_type, max_age=31_536_000, conditional=True)
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        _security_headers(response, (), "")
        return response

    @app.get("/static/portal.css")
    def stylesheet() -> Response:
        response = Response(css_bytes, content_type="text/css; charset=utf-8")
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    # --- detection ---------------------------------------------------------------------------

    def portal_url() -> str:
        # From the configuration: a request's Host header is the visitor's to choose (#13).
        return config.portal_url

    def client_online() -> tuple[bool, int | None]:
        session = gateway.session_for_ip(request.remote_addr or "")
        if session is None or not session.authenticated:
            return False, None
        now = clock.now()
        if session.ends_at is not None:
            return True, int((session.ends_at - now).total_seconds())
        if session.started_at is not None:
            limit = current_view(now).session_minutes * 60
            return True, int(limit - (now - session.started_at).total_seconds())
        return True, None

    def probe(kind: detection.Probe) -> Response:
        authorised, _ = client_online()
        answer = detection.probe_answer(kind, authorised=authorised, portal_url=portal_url())
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
        authorised, remaining = client_online()
        body = detection.captive_api(
            authorised=authorised,
            portal_url=portal_url(),
            venue_info_url=f"{portal_url()}venue",
            seconds_remaining=remaining,
        )
        response = Response(body, content_type=detection.CAPTIVE_JSON)
        response.headers["Cache-Control"] = "private, no-store"
        return response

    # --- fast path -----------------------------------------------------------------------
    # GET / is nearly every request a portal gets (OS probes redirect here, mini-browsers
    # reload it). It is answered by `splash_page` straight from WSGI, skipping Flask's
    # request context, routing and response objects (#6); the same function answers it
    # through Flask, so headers, CSP, escaping and events are the same. Anything else,
    # including a rate-limited client or a damaged FAS query, goes on to Flask.
    flask_wsgi = app.wsgi_app

    def wsgi(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "GET" and environ.get("PATH_INFO") == "/":
            remote = environ.get("REMOTE_ADDR")
            allowed = limiter.allow(
                remote if isinstance(remote, str) and remote else "?", monotonic()
            )
            environ[_RATE_CHECKED] = allowed
            if allowed:
                query_string = environ.get("QUERY_STRING", "")
                accept_language = environ.get("HTTP_ACCEPT_LANGUAGE")
                try:
                    page = splash_page(
                        first_values(query_string if isinstance(query_string, str) else ""),
                        accept_language if isinstance(accept_language, str) else None,
                    )
                except (FasError, UnicodeDecodeError):
                    page = None
                if page is not None:
                    status = HTTPStatus(page.status)
                    start_response(f"{status.value} {status.phrase}", list(page.headers))
                    return [page.body]  # a list: Granian sends it in one write
        return flask_wsgi(environ, start_response)

    app.wsgi_app = wsgi  # type: ignore[method-assign]
    app.extensions["portal"] = {"cache": cache, "limiter": limiter, "tz": ZoneInfo}
    return app
