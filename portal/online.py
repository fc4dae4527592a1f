"""The pages a visitor sees once online: "you are online" with the optional feedback
(a five-face rating, a 0-10 "would you recommend" with a comment) and the privacy notice.
Plain HTML forms; the signed feedback state rides in the link and the forms (no cookies).
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

import jinja2

from devices.clock import Clock
from devices.personal_data import COMMENT_MAX
from portal.config import PortalConfig
from portal.feedback import (
    FACES,
    FEEDBACK_MAX_AGE_S,
    Answered,
    FeedbackState,
    decide_feedback,
    done_questions,
    read_feedback_state,
)
from portal.i18n import Language
from portal.nonces import UsedForms
from portal.pages import Chrome, terms_in
from portal.responses import Page, html_page, security_headers
from portal.signing import Signer
from portal.sources import Recorder
from portal.view import SplashView
from portal.welcome import WELCOME_BACK_ARG

log = logging.getLogger(__name__)

FEEDBACK_URL = "/feedback"
# What the privacy notice says the CMS keeps; the ingest's default retention (days).
ANALYTICS_RETENTION_DAYS = 396


@dataclass(frozen=True)
class Frame:
    """What the online pages need of the splash service, per request."""

    view: SplashView
    chrome: Chrome
    language: Language
    style_hash: str


class OnlinePages:
    def __init__(
        self,
        config: PortalConfig,
        *,
        clock: Clock,
        signer: Signer,
        used_forms: UsedForms,
        recorder: Recorder,
        envs: Mapping[str, jinja2.Environment],
        frame: Callable[[datetime, str | None, str | None], Frame],
    ) -> None:
        self._config = config
        self._clock = clock
        self._signer = signer
        self._used_forms = used_forms
        self._recorder = recorder
        self._envs = envs
        self._frame = frame

    def online(self, args: Mapping[str, str], accept_language: str | None) -> Page:
        """GET /online: with a feedback state from the accept, the feedback forms too."""
        now = self._clock.now()
        frame = self._frame(now, args.get("lang"), accept_language)
        state = read_feedback_state(self._signer, args.get("fb", ""), now)
        back = args.get(WELCOME_BACK_ARG) == "1"
        return self._page(frame, state, 200, frozenset(), back=back)

    def answer(
        self,
        form: Mapping[str, str],
        *,
        origin_header: str | None,
        host: str,
        accept_language: str | None,
    ) -> Page:
        """POST /feedback: one answer, counted once, then the page again with thanks."""
        now = self._clock.now()
        frame = self._frame(now, form.get("lang"), accept_language)
        state = read_feedback_state(self._signer, form.get("state", ""), now)
        done = done_questions(form)
        back = form.get(WELCOME_BACK_ARG) == "1"
        decision = decide_feedback(
            form, state, origin_header=origin_header, host=host, language=frame.language.code
        )
        if not isinstance(decision, Answered):
            log.info("feedback not taken: %s", decision.reason or decision.error)
            values = {"comment": form.get("comment", "")[:COMMENT_MAX]}
            return self._page(
                frame, state, decision.status, done, decision.error, values, back=back
            )
        if self._used_forms.use_once(decision.nonce_key, now.timestamp(), FEEDBACK_MAX_AGE_S):
            self._recorder.record(decision.data)
        else:
            log.info("feedback already counted for this visit (%s)", decision.question)
        return self._page(frame, state, 200, done | {decision.question}, back=back)

    def privacy(self, args: Mapping[str, str], accept_language: str | None) -> Page:
        """GET /privacy: what the portal keeps about a visit, and for how long."""
        frame = self._frame(self._clock.now(), args.get("lang"), accept_language)
        body = self._render(
            "privacy.html",
            frame,
            lang_href=lambda code: f"/privacy?lang={code}",
            visitor_days=self._config.visitor_period_days,
            retention_days=ANALYTICS_RETENTION_DAYS,
            returning_days=frame.view.splash_every_days,
        )
        return html_page(200, body, security_headers((), frame.style_hash), no_store=False)

    def _render(self, template: str, frame: Frame, **values: object) -> str:
        return (
            self._envs[frame.language.code]
            .get_template(template)
            .render(**frame.chrome.context(frame.language), **values)
        )

    def _page(
        self,
        frame: Frame,
        state: FeedbackState | None,
        status: int,
        done: frozenset[str],
        error: str = "",
        values: Mapping[str, str] | None = None,
        *,
        back: bool = False,
    ) -> Page:
        """`back`: the visitor was let through without the terms (portal.welcome); the
        page greets them back, says why and holds the terms, while the policy says so."""
        query = {"fb": state.token} if state else {}
        returning_days = frame.view.splash_every_days if back else None
        if returning_days is not None:
            query[WELCOME_BACK_ARG] = "1"
        terms_text, terms_lang = terms_in(frame.view, frame.language.code)

        def lang_href(code: str) -> str:
            return "/online?" + urllib.parse.urlencode({**query, "lang": code})

        origin = state.origin if state else None
        body = self._render(
            "online.html",
            frame,
            lang_href=lang_href,
            state=state.token if state else "",
            continue_url=origin or "",
            continue_host=urllib.parse.urlsplit(origin).hostname if origin else "",
            faces=FACES,
            done=done,
            done_value=" ".join(sorted(done)),
            error=error,
            values=values or {},
            action=FEEDBACK_URL,
            comment_max=COMMENT_MAX,
            returning_days=returning_days,
            back_arg=WELCOME_BACK_ARG,
            terms_version=frame.view.terms_version,
            terms_text=terms_text,
            terms_lang=terms_lang,
        )
        return html_page(status, body, security_headers((), frame.style_hash))
