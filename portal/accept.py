"""What POST /accept decides from the form alone. Pure: no gateway, store or clock.

The checks run in the order a visitor meets them: a form from another site, a forged or
expired state, terms that changed since the page was shown, then the form's own fields.
What passes is `Accepted`; the gateway and the used-form store have the last word.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from portal import messages
from portal.fas import FasClient
from portal.messages import N_, Message
from portal.redirects import safe_redirect
from portal.signing import Signer, StateError
from portal.visit import ACCEPT_PURPOSE, client_from_state

_EMAIL = re.compile(r"^[^@\s<>\"']{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


@dataclass(frozen=True)
class Refused:
    """A message page instead of the form; `reason` is for the log."""

    message: Message
    reason: str


@dataclass(frozen=True)
class FormAgain:
    """The splash again for `client`, with what the visitor entered and why it was sent
    back. `state` is the form's own when it still holds, None for a freshly signed one."""

    status: int
    client: FasClient
    values: Mapping[str, str]
    errors: Mapping[str, str]  # field -> message id
    notice: str  # message id, or ""
    state: str | None


@dataclass(frozen=True)
class Accepted:
    client: FasClient
    nonce: str
    origin: str | None  # the safe page the visitor was opening, if any
    newsletter_email: str | None  # when the visitor opted in to an offered newsletter


AcceptDecision = Refused | FormAgain | Accepted


def cross_site(origin_header: str | None, host: str) -> bool:
    """Whether the browser says the form was sent from another site (a missing or "null"
    Origin, as privacy modes send, is not evidence of that)."""
    return bool(
        origin_header
        and origin_header != "null"
        and urllib.parse.urlsplit(origin_header).netloc != host
    )


def decide_accept(
    form: Mapping[str, str],
    *,
    origin_header: str | None,
    host: str,
    signer: Signer,
    now: datetime,
    max_age_s: int,
    terms_version: str,
    newsletter_offered: bool,
) -> AcceptDecision:
    if cross_site(origin_header, host):
        return Refused(messages.CROSS_SITE, f"cross-site Origin {(origin_header or '')[:100]}")
    try:
        state = signer.verify(ACCEPT_PURPOSE, form.get("state", ""), now=now, max_age_s=max_age_s)
        client = client_from_state(state)
    except (StateError, KeyError) as error:
        return Refused(messages.EXPIRED, str(error))
    values = {
        "accept": "yes" if form.get("accept") == "yes" else "",
        "newsletter": "yes" if form.get("newsletter") == "yes" else "",
        "email": form.get("email", "")[:254].strip(),
    }
    if state.get("v") != terms_version or form.get("terms_version") != terms_version:
        notice = N_("The terms of use have changed. Please read them and accept again.")
        return FormAgain(409, client, values, {}, notice, None)
    errors: dict[str, str] = {}
    if form.get("accept") != "yes":
        errors["accept"] = N_("Tick the box to accept the terms of use.")
    if newsletter_offered and values["newsletter"] and not _EMAIL.match(values["email"]):
        errors["email"] = N_(
            "Enter an email address like name@example.com, or untick the newsletter box."
        )
    if errors:
        return FormAgain(400, client, values, errors, "", form.get("state"))
    opted_in = bool(newsletter_offered and values["newsletter"])
    return Accepted(
        client,
        nonce=state["x"],
        origin=safe_redirect(state.get("o")),
        newsletter_email=values["email"] if opted_in else None,
    )
