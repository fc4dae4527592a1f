"""A visitor's optional feedback once online (issue 16). Pure: no gateway, store or clock.

The accept signs a feedback state (the visitor's pseudonyms for the day, where they were
going, when) into the "you are online" link, so the feedback forms need no cookie and
no MAC: POST /feedback trusts only what this node signed, from this site (Origin), once
per question (the nonce store). The comment is scrubbed of personal data here, before
it is queued for the outbox; the CMS ingest scrubs it again.
"""

from __future__ import annotations

import secrets
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from devices.personal_data import COMMENT_MAX, scrub
from devices.protocol import FeedbackData
from portal.accept import cross_site
from portal.messages import N_
from portal.redirects import safe_redirect
from portal.signing import Signer, StateError

FEEDBACK_PURPOSE = "feedback"
FEEDBACK_MAX_AGE_S = 12 * 3600  # the longest session the CMS offers, and some
RATING = "rating"
RECOMMEND = "recommend"
QUESTIONS = (RATING, RECOMMEND)


@dataclass(frozen=True)
class Face:
    value: int
    name: str  # message id: the button's accessible name
    mouth: str  # the face's mouth, an SVG path: drawn, not an emoji a phone may lack


def _mouth(curve: float) -> str:
    # From frown (curve < 0) to smile (curve > 0) on a 32 x 32 face.
    return f"M10 {22 - curve / 2:g} Q16 {22 + curve:g} 22 {22 - curve / 2:g}"


# Five faces from worst to best; the drawing is decoration, the name is what is read out.
FACES = (
    Face(1, N_("Very poor"), _mouth(-6)),
    Face(2, N_("Poor"), _mouth(-3)),
    Face(3, N_("OK"), "M10 22 H22"),
    Face(4, N_("Good"), _mouth(3)),
    Face(5, N_("Very good"), _mouth(6)),
)


@dataclass(frozen=True)
class FeedbackState:
    """What the signed feedback state says about the visit."""

    client_hash: str
    visitor_hash: str
    origin: str | None  # the safe page the visitor was opening, for "Continue"
    nonce: str
    token: str


def sign_feedback(
    signer: Signer,
    *,
    client_hash: str,
    visitor_hash: str,
    origin: str | None,
    now: datetime,
    nonce: str,
) -> str:
    return signer.sign(
        FEEDBACK_PURPOSE,
        {
            "c": client_hash,
            "v": visitor_hash,
            "o": origin or "",
            "t": int(now.timestamp()),
            "x": nonce,
        },
    )


def read_feedback_state(signer: Signer, token: str, now: datetime) -> FeedbackState | None:
    """The state in a genuine, unexpired token, or None."""
    try:
        state = signer.verify(FEEDBACK_PURPOSE, token, now=now, max_age_s=FEEDBACK_MAX_AGE_S)
        return FeedbackState(
            client_hash=state["c"],
            visitor_hash=state["v"],
            origin=safe_redirect(state.get("o")),
            nonce=state["x"],
            token=token,
        )
    except (StateError, KeyError):
        return None


def online_url(portal_url: str, token: str, language: str) -> str:
    """Where the gateway sends a visitor it has just let online: the portal's own page,
    which thanks them, offers the feedback and links on to where they were going."""
    query = urllib.parse.urlencode({"lang": language, "fb": token})
    return urllib.parse.urljoin(portal_url, f"online?{query}")


def fresh_online_url(
    signer: Signer,
    portal_url: str,
    language: str,
    pseudonyms: tuple[str, str],
    origin: str | None,
    now: datetime,
) -> str:
    """`online_url` with a new feedback form signed for this visitor ((client hash,
    visitor hash), as `Pseudonyms.of` gives them), under a nonce of its own."""
    client_hash, visitor_hash = pseudonyms
    token = sign_feedback(
        signer,
        client_hash=client_hash,
        visitor_hash=visitor_hash,
        origin=origin,
        now=now,
        nonce=secrets.token_urlsafe(12),
    )
    return online_url(portal_url, token, language)


@dataclass(frozen=True)
class Answered:
    question: str
    nonce_key: str  # use once: the node's used-form store
    data: FeedbackData


@dataclass(frozen=True)
class NotAnswered:
    """Show the page again; `error` (a message id) when the visitor should fix something."""

    status: int
    error: str = ""
    reason: str = ""  # for the log


FeedbackDecision = Answered | NotAnswered


def done_questions(form: Mapping[str, str]) -> frozenset[str]:
    """Questions the visitor answered earlier on this page (cosmetic: only what is shown)."""
    return frozenset(q for q in form.get("done", "").split() if q in QUESTIONS)


def _whole(text: str, low: int, high: int) -> int | None:
    text = text.strip()
    if not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    return value if low <= value <= high else None


def decide_feedback(
    form: Mapping[str, str],
    state: FeedbackState | None,
    *,
    origin_header: str | None,
    host: str,
    language: str,
) -> FeedbackDecision:
    if cross_site(origin_header, host):
        return NotAnswered(403, reason=f"cross-site Origin {(origin_header or '')[:100]}")
    if state is None:
        return NotAnswered(400, reason="feedback state forged or expired")
    question = form.get("question", "")
    if question == RATING:
        rating = _whole(form.get("rating", ""), 1, 5)
        if rating is None:
            return NotAnswered(400, reason="rating out of range")
        data = FeedbackData(
            client_hash=state.client_hash,
            visitor_hash=state.visitor_hash,
            language=language,
            rating=rating,
        )
    elif question == RECOMMEND:
        score = _whole(form.get("recommend", ""), 0, 10)
        if score is None:
            return NotAnswered(400, N_("Choose a number from 0 to 10."), "no score")
        data = FeedbackData(
            client_hash=state.client_hash,
            visitor_hash=state.visitor_hash,
            language=language,
            recommend=score,
            comment=scrub(form.get("comment", "")[: COMMENT_MAX * 4], COMMENT_MAX),
        )
    else:
        return NotAnswered(400, reason="no such question")
    return Answered(question, f"{FEEDBACK_PURPOSE}:{question}:{state.nonce}", data)
