"""The splash service: what every portal page shows and what an accept does, with the
world it touches (gateway, manifest, recorder, clock, stores) injected. No Flask: it
returns `Page`s and `Redirect`s that the routes and the WSGI fast path send as they are.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import secrets
import time
import urllib.parse
from collections.abc import Callable, Mapping
from datetime import datetime
from http import HTTPStatus
from pathlib import Path

from devices.clock import Clock
from devices.device_kind import AssetStore
from devices.protocol import PromoClickedData, TermsAcceptedData
from portal import messages
from portal.accept import Accepted, FormAgain, Refused, decide_accept
from portal.config import PortalConfig
from portal.fas import FasClient
from portal.feedback import fresh_online_url
from portal.gateway import Gateway, GatewayBusy, GatewayError
from portal.i18n import LANGUAGES, Language, environments, translations
from portal.impressions import Impressions, Pseudonyms
from portal.languages import choose_language
from portal.messages import Message
from portal.node_health import ACCEPT_FAILED
from portal.nonces import MemoryNonceStore, NonceStore, UsedForms
from portal.online import Frame, OnlinePages
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
    render_splash_without_visitor,
    tag_marker,
)
from portal.ratelimit import RateLimiter
from portal.redirects import safe_redirect
from portal.responses import Page, Redirect, html_page, security_headers
from portal.returning import AcceptRecord, MemoryAcceptRecord, ReturningVisitors
from portal.signing import Signer
from portal.sources import (
    DroppingNewsletter,
    ManifestSource,
    NewsletterSignup,
    NewsletterSink,
    NoTally,
    Recorder,
    Tally,
)
from portal.view import SplashView, splash_view
from portal.visit import Visits, form_targets, sign_visit
from portal.welcome import WelcomeBack
from portal.wifi_policy import ClientLimits, client_limits, in_service

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).with_name("static")
PROMO_PURPOSE = "promo"
_SHA = re.compile(r"^[0-9a-f]{64}$")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_HASH = re.compile(r"^[0-9a-f]{16,64}$")
ACCEPT_URL = "/accept"

LangHref = Callable[[str], str]  # language code -> the link that switches to it


def asset_url(sha: str) -> str:
    return f"/assets/{sha}"


class Splash:
    def __init__(
        self,
        config: PortalConfig,
        *,
        gateway: Gateway,
        manifest_source: ManifestSource,
        recorder: Recorder,
        clock: Clock,
        assets: AssetStore | None = None,
        nonces: NonceStore | None = None,
        newsletter: NewsletterSink | None = None,
        tally: Tally | None = None,
        returning: AcceptRecord | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        fallback_name: str = "Free Wi-Fi",
    ) -> None:
        self.config = config
        self.clock = clock
        self._signer = Signer(config.secret)
        self._gateway = gateway
        self._limiter = RateLimiter(config.rate_per_s, config.rate_burst)
        self._manifest_source = manifest_source
        self._used_forms = UsedForms(nonces if nonces is not None else MemoryNonceStore())
        self._recorder = recorder
        self._newsletter = newsletter if newsletter is not None else DroppingNewsletter()
        self._tally = tally if tally is not None else NoTally()
        self._assets = assets  # None: a node without a content cache serves no images
        self._monotonic = monotonic
        self._fallback_name = fallback_name
        self._envs = environments()
        self._catalogues = {code: translations(code) for code in LANGUAGES}
        self._pseudonyms = Pseudonyms(config.secret, config.visitor_period_days)
        self._impressions = Impressions(recorder, self._pseudonyms)
        self._visits = Visits(config)
        self.css_bytes = (STATIC_DIR / "portal.css").read_bytes()
        self._css_url = f"/static/portal.css?v={hashlib.sha256(self.css_bytes).hexdigest()[:12]}"
        self.cache = SplashCache(self._build_view)
        self._chrome_memo: tuple[SplashView, Chrome] | None = None
        self._promo_tag = functools.lru_cache(maxsize=4096)(self._sign_promo)
        self._welcome = WelcomeBack(
            config,
            gateway=gateway,
            returning=ReturningVisitors(config.secret, returning or MemoryAcceptRecord()),
            used_forms=self._used_forms,
            pseudonyms=self._pseudonyms,
            signer=self._signer,
            recorder=recorder,
            limits=self._client_limits,
            monotonic=monotonic,
        )
        self.online = OnlinePages(
            config,
            clock=clock,
            signer=self._signer,
            used_forms=self._used_forms,
            recorder=recorder,
            envs=self._envs,
            frame=self._frame,
        )

    # --- what the page shows -----------------------------------------------------------

    def rate_allowed(self, remote_addr: str | None) -> bool:
        return self._limiter.allow(remote_addr or "?", self._monotonic())

    def _build_view(self, now: datetime) -> tuple[int, SplashView]:
        snap = self._manifest_source.snapshot()
        return snap.generation, splash_view(
            snap.manifest, snap.alerts, now, fallback_name=self._fallback_name, feeds=snap.feeds
        )

    def current_view(self, now: datetime) -> SplashView:
        return self.cache.view(self._manifest_source.snapshot().generation, now)

    def chrome(self, view: SplashView) -> Chrome:
        """Per view, computed once (stylesheet hash, languages): the splash is hot."""
        memo = self._chrome_memo
        if memo is not None and memo[0] is view:
            return memo[1]
        logo = asset_url(view.logo_sha256) if view.logo_sha256 else None
        look = chrome_for(view, self._css_url, logo)
        self._chrome_memo = (view, look)
        return look

    def language(
        self, view: SplashView, asked: str | None, accept_language: str | None
    ) -> Language:
        codes = tuple(language.code for language in self.chrome(view).languages)
        return choose_language(codes, asked, accept_language, self.config.default_language)

    def gettext(self, code: str, message: str) -> str:
        return str(self._catalogues[code].gettext(message))

    def _frame(self, now: datetime, asked: str | None, accept_language: str | None) -> Frame:
        view = self.current_view(now)
        language = self.language(view, asked, accept_language)
        return Frame(view, self.chrome(view), language, self._style_hash(view))

    def _style_hash(self, view: SplashView) -> str:
        style = self.chrome(view).style
        return style.csp_hash if style else ""

    def _build_page(self, view: SplashView, code: str) -> CachedSplash:
        look = self.chrome(view)
        language = LANGUAGES[code]
        with_client = render_splash(
            self._envs[code],
            view,
            look,
            language,
            has_client=True,
            state=M_STATE,
            query=M_QUERY,
            client=M_CLIENT,
            tags={promo.item_id: tag_marker(promo.item_id) for promo in view.promos},
            asset_url=asset_url,
            accept_url=ACCEPT_URL,
        )
        without = render_splash_without_visitor(
            self._envs[code], view, look, language, asset_url=asset_url, accept_url=ACCEPT_URL
        )
        return CachedSplash(view, look, language, with_client, without)

    def _cached_page(self, view: SplashView, code: str) -> CachedSplash:
        return self.cache.page(view, code, self._build_page)

    def message(
        self, view: SplashView, language: Language, message: Message, lang_href: LangHref
    ) -> Page:
        code = language.code
        link = message.link
        page = render_message(
            self._envs[code],
            self.chrome(view),
            language,
            heading=self.gettext(code, message.heading),
            lines=tuple(self.gettext(code, line) for line in message.lines),
            lang_href=lang_href,
            link_href=link[0] if link else "",
            link_text=self.gettext(code, link[1]) if link else "",
        )
        return html_page(message.status, page, security_headers((), self._style_hash(view)))

    def _sign_promo(self, item_id: str, visitor: str) -> str:
        return self._signer.tag(PROMO_PURPOSE, item_id, visitor)

    def _splash_for(
        self,
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
        token = state or sign_visit(
            self._signer, client, origin, view.terms_version, now, secrets.token_urlsafe(12)
        )
        visitor = self._pseudonyms.of(client, now)[0]
        tags = {
            promo.item_id: self._promo_tag(promo.item_id, visitor)
            for promo in view.promos
            if promo.has_link
        }
        if errors or notice:
            body = render_splash(
                self._envs[language.code],
                view,
                self.chrome(view),
                language,
                has_client=True,
                state=token,
                query=query,
                client=visitor,
                tags=tags,
                asset_url=asset_url,
                accept_url=ACCEPT_URL,
                errors=errors,
                values=values,
                notice=notice,
            )
        else:
            page = self._cached_page(view, language.code)
            body = fill_parts(page.parts, state=token, query=query, client=visitor, tags=tags)
        return html_page(
            status,
            body,
            security_headers(
                targets if targets is not None else form_targets(client, origin),
                self._style_hash(view),
            ),
        )

    # --- the pages -----------------------------------------------------------------------

    def _client_limits(self) -> ClientLimits:
        manifest = self._manifest_source.snapshot().manifest
        return client_limits(manifest.portal if manifest else None)

    def in_service(self, now: datetime) -> bool:
        """Inside the site's Wi-Fi service hours (always, without a policy)."""
        manifest = self._manifest_source.snapshot().manifest
        if manifest is None or manifest.portal is None:
            return True
        return in_service(manifest.portal.wifi, manifest.site.timezone, now)

    def splash_page(self, args: Mapping[str, str], accept_language: str | None) -> Page:
        """GET /: the same answer from the fast path and from Flask (a 303 onward for a
        returning visitor let online, `portal.welcome`). FasError when the FAS query is
        damaged (the routes then show `messages.BAD_LINK`)."""
        now = self.clock.now()
        view = self.current_view(now)
        language = self.language(view, args.get("lang"), accept_language)
        if not self.in_service(now):
            query = urllib.parse.urlencode({k: args[k] for k in ("fas", "iv") if k in args})
            return self.message(
                view,
                language,
                messages.CLOSED,
                lambda code: f"/?{query}&lang={code}" if query else f"/?lang={code}",
            )
        visit = self._visits.visit_in(args)
        if visit is None:
            page = self._cached_page(view, language.code)
            style = page.chrome.style
            return html_page(
                200, page.without_client, security_headers((), style.csp_hash if style else "")
            )
        welcome = self._welcome.page(visit, view, language.code, now)
        if welcome is not None:  # a returning visitor, let straight online (issue 16)
            return welcome
        self._impressions.record(visit.client, view, language.code, now, self._monotonic())
        self._gateway.warm(visit.client)
        return self._splash_for(
            view, language, visit.client, visit.origin, visit.query, now, targets=visit.form_targets
        )

    def accept(
        self,
        form: Mapping[str, str],
        *,
        origin_header: str | None,
        host: str,
        accept_language: str | None,
        query: str,
        lang_href: LangHref,
    ) -> Page | Redirect:
        """POST /accept; `query` is the visit's FAS query, carried on the form's URL."""
        now = self.clock.now()
        view = self.current_view(now)
        language = self.language(view, form.get("lang"), accept_language)
        code = language.code
        decision = decide_accept(
            form,
            origin_header=origin_header,
            host=host,
            signer=self._signer,
            now=now,
            max_age_s=self.config.state_max_age_s,
            terms_version=view.terms_version,
            newsletter_offered=view.newsletter,
        )
        if isinstance(decision, Refused):
            log.info("accept refused: %s", decision.reason)
            self._tally.count(ACCEPT_FAILED)
            return self.message(view, language, decision.message, lang_href)
        if not self.in_service(now):
            return self.message(view, language, messages.CLOSED, lang_href)
        if isinstance(decision, FormAgain):
            return self._splash_for(
                view,
                language,
                decision.client,
                safe_redirect(decision.client.origin_url),
                query,
                now,
                status=decision.status,
                state=decision.state,
                errors={field: self.gettext(code, e) for field, e in decision.errors.items()},
                values=decision.values,
                notice=self.gettext(code, decision.notice) if decision.notice else "",
            )
        return self._go_online(decision, view, language, now, lang_href, query)

    def _go_online(
        self,
        accepted: Accepted,
        view: SplashView,
        language: Language,
        now: datetime,
        lang_href: LangHref,
        query: str,
    ) -> Page | Redirect:
        client = accepted.client
        origin = safe_redirect(client.origin_url)
        started = self._monotonic()
        try:
            if not self._gateway.verify(client):
                log.info("accept refused: gateway does not know client %s", client.client_ip)
                self._tally.count(ACCEPT_FAILED)
                return self.message(view, language, messages.UNKNOWN_DEVICE, lang_href)
            if not self._used_forms.use_once(
                accepted.nonce, now.timestamp(), self.config.state_max_age_s
            ):
                log.info("accept refused: form replayed")
                self._tally.count(ACCEPT_FAILED)
                return self.message(view, language, messages.ALREADY_SENT, lang_href)
            client_h, visitor_h = self._pseudonyms.of(client, now)
            # Online, the visitor lands on the portal's own page: it thanks them, offers the
            # feedback and links on to where they were going (issue 16). An OS probe's page
            # would otherwise be all a captive-portal mini-browser shows.
            online = fresh_online_url(
                self._signer,
                self.config.portal_url,
                language.code,
                (client_h, visitor_h),
                accepted.origin,
                now,
            )
            target = self._gateway.authorise(client, online, self._client_limits())
        except GatewayBusy as error:
            # Back-pressure: the visitor gets the form again (a fresh one) and taps again.
            log.warning("visitor asked to try again: %s", error)
            notice = self.gettext(language.code, messages.BUSY_NOTICE)
            return self._splash_for(
                view, language, client, origin, query, now, status=503, notice=notice
            )
        except GatewayError as error:
            log.warning("openNDS did not let %s online: %s", client.client_ip, error)
            self._tally.count(ACCEPT_FAILED)
            return self.message(view, language, messages.UNKNOWN_DEVICE, lang_href)
        wait_s = round(max(0.0, self._monotonic() - started), 3)
        self._welcome.accepted(client.client_mac, view, now)
        email = accepted.newsletter_email
        self._recorder.record(
            TermsAcceptedData(
                client_hash=client_h,
                visitor_hash=visitor_h,
                terms_version=view.terms_version,
                language=language.code,
                newsletter_opt_in=email is not None,
                authorise_wait_s=wait_s,
            )
        )
        if email is not None:
            self._newsletter.submit(
                NewsletterSignup(email, view.site_id, language.code, view.terms_version)
            )
        return Redirect(303, target)

    def venue(self, view: SplashView, language: Language) -> Page:
        """The splash without a visit (RFC 8908's venue page): nothing per request."""
        page = self._cached_page(view, language.code)
        style = page.chrome.style
        return html_page(
            200,
            page.without_client,
            security_headers((), style.csp_hash if style else ""),
            no_store=False,
        )

    def promo_click(self, item_id: str, visitor: str, tag: str) -> Redirect | HTTPStatus:
        """Where a promotion's tracker link goes, counted; 400 for a link this node did not
        sign, 404 for an item it does not show with a link."""
        self.clock.now()
        if not _ID.match(item_id) or not _HASH.match(visitor):
            return HTTPStatus.BAD_REQUEST
        if not self._signer.check_tag(PROMO_PURPOSE, tag, item_id, visitor):
            return HTTPStatus.BAD_REQUEST
        manifest = self._manifest_source.snapshot().manifest
        items = (
            {item.id: item for item in (*manifest.items, *manifest.default_items)}
            if manifest
            else {}
        )
        item = items.get(item_id)
        target = safe_redirect(item.link_url) if item else None
        if item is None or target is None:
            return HTTPStatus.NOT_FOUND
        self._recorder.record(
            PromoClickedData(client_hash=visitor, item_id=item.id, campaign_id=item.campaign_id)
        )
        return Redirect(302, target)

    def asset(self, sha: str) -> tuple[Path, str] | None:
        """The cached file and content type of an image the manifest names."""
        manifest = self._manifest_source.snapshot().manifest
        if not _SHA.match(sha) or manifest is None or self._assets is None:
            return None
        try:
            ref = manifest.asset(sha)
        except KeyError:
            return None
        path = self._assets.path(sha)
        if path is None or not ref.content_type.startswith("image/"):
            return None
        return path, ref.content_type

    def client_online(self, remote_addr: str | None) -> tuple[bool, int | None]:
        """Whether the client at `remote_addr` is online, and its seconds left if known."""
        session = self._gateway.session_for_ip(remote_addr or "")
        if session is None or not session.authenticated:
            return False, None
        now = self.clock.now()
        if session.ends_at is not None:
            return True, int((session.ends_at - now).total_seconds())
        if session.started_at is not None:
            limit = self.current_view(now).session_minutes * 60
            return True, int(limit - (now - session.started_at).total_seconds())
        return True, None
