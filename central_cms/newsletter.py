"""Newsletter sign-ups (issue 6): what portal nodes forward, and what staff see of it.

A visitor who ticks the newsletter box on the Wi-Fi sign-in page gives an email address
with explicit consent. The portal node spools it and POSTs it here with its asset token
(`views/device_api.py`); it goes into the CMS database only, never into analytics.

The body is checked strictly (`parse_signup`, pure). Storing is idempotent: one row per
address per site, so a node re-sending a sign-up it is not sure arrived gets the same row
back. The address is personal data: logs and audit entries carry the row's id, never the
address, and staff with `Permission.NEWSLETTER` can list, export and delete rows (a
person asking to be removed).
"""

from __future__ import annotations

import csv
import io
import logging
import re
import string
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from central_cms import audit
from central_cms import models as m
from central_cms.errors import NotFound
from central_cms.policy import Actor, Forbidden, Permission, require
from central_cms.runtime import CmsRuntime
from central_cms.spreadsheet import csv_cell
from devices.protocol import DeviceKind, ProtocolError, validate_id

log = logging.getLogger(__name__)

# A sign-up is four short strings; anything bigger is not one.
MAX_BODY_BYTES = 2048
# New sign-ups one device may add per window (repeats of stored ones do not count). A
# busy centre sees a few an hour; this bounds what a stolen token can add, and a node
# draining its spool after an outage gets 429 and sends the rest on later polls.
RATE_LIMIT = 120
RATE_WINDOW = timedelta(hours=1)
# How far ahead of the CMS clock a node's `consented_at` may be (clock skew).
MAX_CLOCK_SKEW = timedelta(minutes=5)
# Rows the staff page shows at once; the CSV export has them all.
PAGE_ROWS = 500

FIELDS = ("email", "site_id", "language", "terms_version")
OPTIONAL_FIELDS = ("consented_at",)

# The manifest's language code form (devices.protocol PortalSettings.languages).
_LANGUAGE = re.compile(r"[a-z]{2}(?:_[A-Z]{2})?")
# RFC 5322 atext: what a dot-atom local part may hold besides non-ASCII (RFC 6531).
_ATEXT = frozenset(string.ascii_letters + string.digits + "!#$%&'*+-/=?^_`{|}~")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


# --- pure: the body a portal node sends ----------------------------------------------------


class SignupInvalid(Exception):
    """The body is not a sign-up; `problems` maps each bad field to what is wrong."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = dict(problems)


@dataclass(frozen=True)
class SignupInput:
    email: str  # normalised: see `normalise_email`
    site_id: str
    language: str
    terms_version: str
    consented_at: datetime | None = None  # when the node says the visitor ticked the box


def normalise_email(raw: str) -> str:
    """One spelling per address, so a repeat finds the stored row: trimmed, NFC and
    lower-cased (mail systems treat the local part case-insensitively in practice)."""
    return unicodedata.normalize("NFC", raw.strip()).lower()


def email_problem(address: str) -> str | None:
    """Why `address` (normalised) is not an email address we accept, or None."""
    if len(address.encode("utf-8")) > 254:
        return "is longer than 254 bytes"
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        return "must look like name@example.org"
    if len(local.encode("utf-8")) > 64:
        return "has more than 64 bytes before the @"
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return "may not start or end with a dot before the @, or have two dots in a row"
    for char in local.replace(".", ""):
        if char in _ATEXT:
            continue
        # Internationalised addresses: letters and the like, never spaces or controls.
        if ord(char) < 0x80 or not char.isprintable() or char.isspace():
            return f"may not contain {char!r} before the @"
    labels = domain.split(".")
    if len(domain) > 253 or len(labels) < 2:
        return "needs a domain with a dot after the @, such as example.org"
    if not all(_LABEL.fullmatch(label) for label in labels):
        return "has a domain that is not letters, digits and inner hyphens (use punycode)"
    if labels[-1].isdigit():
        return "has a domain that ends in a number"
    return None


def _short_text(value: object, field: str, problems: dict[str, str], limit: int) -> str:
    if not isinstance(value, str):
        problems[field] = "must be a string"
        return ""
    if not 1 <= len(value) <= limit:
        problems[field] = f"must be 1-{limit} characters"
    elif not value.isprintable() or value != value.strip():
        problems[field] = "may hold only printable characters, without spaces at either end"
    return value


def parse_signup(body: object, *, now: datetime) -> SignupInput:
    """The sign-up in a decoded JSON body, every field checked (portal/sources.py
    NewsletterSignup: email, site_id, language, terms_version; optionally consented_at
    as RFC 3339 with an offset). Raises SignupInvalid naming each bad field."""
    if not isinstance(body, dict):
        raise SignupInvalid({"body": "must be a JSON object"})
    problems: dict[str, str] = {}
    for key in sorted(set(body) - {*FIELDS, *OPTIONAL_FIELDS}):
        problems[str(key)[:40]] = "is not a field of a sign-up"
    for key in FIELDS:
        if key not in body:
            problems[key] = "is required"

    email = ""
    raw_email = body.get("email")
    if "email" in body and not isinstance(raw_email, str):
        problems["email"] = "must be a string"
    elif isinstance(raw_email, str):
        email = normalise_email(raw_email)
        problem = email_problem(email)
        if problem:
            problems["email"] = problem

    site_id = body.get("site_id")
    if "site_id" in body and not (isinstance(site_id, str) and _is_id(site_id)):
        problems["site_id"] = "must be a site id: lowercase letters, digits and '-'"

    language = body.get("language")
    if "language" in body and not (isinstance(language, str) and _LANGUAGE.fullmatch(language)):
        problems["language"] = "must be a language code such as en, vi or zh_CN"

    terms_version = ""
    if "terms_version" in body:
        terms_version = _short_text(body["terms_version"], "terms_version", problems, 40)

    consented_at = None
    if "consented_at" in body:
        consented_at = _instant(body["consented_at"], now, problems)

    if problems:
        raise SignupInvalid(problems)
    assert isinstance(site_id, str) and isinstance(language, str)
    return SignupInput(email, site_id, language, terms_version, consented_at)


def _is_id(value: str) -> bool:
    try:
        validate_id(value, "site_id")
    except ProtocolError:
        return False
    return True


def _instant(value: object, now: datetime, problems: dict[str, str]) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        problems["consented_at"] = "must be an RFC 3339 time with an offset"
        return None
    if parsed > now + MAX_CLOCK_SKEW:
        problems["consented_at"] = "is in the future: check the node's clock"
        return None
    return parsed


def device_refusal(device: m.Device, site_id: str) -> str | None:
    """Why this device may not submit a sign-up for `site_id`, or None."""
    if device.kind != DeviceKind.PORTAL.value:
        return "Only portal nodes submit newsletter sign-ups."
    if device.site_id != site_id:
        return f"This device belongs to site {device.site_id}; it may not submit for {site_id}."
    return None


# --- the database: what a portal node submits ----------------------------------------------


class RateLimited(Exception):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many new sign-ups; retry in {retry_after_s} s")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Stored:
    id: int
    created: bool  # False: the same address was already signed up at that site


def _insert(session: Session) -> type[postgresql.Insert] | type[sqlite.Insert]:
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.Insert
    return sqlite.Insert


def _existing(session: Session, site_id: str, email: str) -> int | None:
    return session.scalar(
        select(m.NewsletterSignup.id).where(
            m.NewsletterSignup.site_id == site_id, m.NewsletterSignup.email == email
        )
    )


def store_signup(session: Session, device: m.Device, signup: SignupInput, now: datetime) -> Stored:
    """Store a sign-up the device may submit (check `device_refusal` first). A repeat
    returns the stored row unchanged, whatever the rate limit says, so a node's retries
    always drain its spool. Commits."""
    found = _existing(session, signup.site_id, signup.email)
    if found is not None:
        return Stored(found, created=False)
    _check_rate(session, device.id, now)
    # ON CONFLICT: the node may re-send while its first request is still being stored,
    # possibly by another CMS process; the unique (site, email) decides which makes the
    # row. The loop covers staff deleting that row in between (then this one is new).
    for _ in range(3):
        made = session.execute(
            _insert(session)(m.NewsletterSignup)
            .values(
                site_id=signup.site_id,
                email=signup.email,
                language=signup.language,
                terms_version=signup.terms_version,
                consented_at=signup.consented_at or now,
                received_at=now,
                source_device_id=device.id,
            )
            .on_conflict_do_nothing(index_elements=["site_id", "email"])
            .returning(m.NewsletterSignup.id)
        ).scalar()
        session.commit()
        if made is not None:
            log.info(
                "newsletter sign-up %d stored for site %s from %s", made, signup.site_id, device.id
            )
            return Stored(made, created=True)
        found = _existing(session, signup.site_id, signup.email)
        if found is not None:
            return Stored(found, created=False)
    raise RuntimeError("a newsletter sign-up kept being made and deleted concurrently")


def _check_rate(session: Session, device_id: str, now: datetime) -> None:
    recent = session.scalars(
        select(m.NewsletterSignup.received_at)
        .where(
            m.NewsletterSignup.source_device_id == device_id,
            m.NewsletterSignup.received_at > now - RATE_WINDOW,
        )
        .order_by(m.NewsletterSignup.received_at)
    ).all()
    if len(recent) >= RATE_LIMIT:
        # Below the limit again once the oldest of the surplus leaves the window.
        frees_at = recent[len(recent) - RATE_LIMIT] + RATE_WINDOW
        raise RateLimited(max(1, int((frees_at - now).total_seconds()) + 1))


# --- staff: list, export, delete ------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    site_id: str = ""  # "" is every site the actor covers
    search: str = ""  # part of an address


def _query(actor: Actor, filters: Filters) -> Select[m.NewsletterSignup]:
    require(actor, Permission.NEWSLETTER, site_ids=[filters.site_id] if filters.site_id else [])
    query = select(m.NewsletterSignup)
    if filters.site_id:
        query = query.where(m.NewsletterSignup.site_id == filters.site_id)
    elif not actor.all_sites:
        query = query.where(m.NewsletterSignup.site_id.in_(sorted(actor.sites)))
    if filters.search.strip():
        needle = normalise_email(filters.search)
        query = query.where(m.NewsletterSignup.email.contains(needle, autoescape=True))
    return query


def list_signups(
    session: Session, actor: Actor, filters: Filters, *, limit: int = PAGE_ROWS
) -> tuple[Sequence[m.NewsletterSignup], int]:
    """The newest `limit` sign-ups the actor may see, and how many match in all."""
    query = _query(actor, filters)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(m.NewsletterSignup.consented_at.desc(), m.NewsletterSignup.id.desc()).limit(
            limit
        )
    ).all()
    return rows, total


CSV_HEADER = (
    "id",
    "email",
    "site_id",
    "site",
    "language",
    "terms_version",
    "consented_at",
    "source_device_id",
)


def csv_text(rows: Iterable[m.NewsletterSignup]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    for row in rows:
        values = (
            row.id,
            row.email,
            row.site_id,
            row.site.name,
            row.language,
            row.terms_version,
            row.consented_at.isoformat(),
            row.source_device_id or "",
        )
        writer.writerow([csv_cell(v) for v in values])
    return buffer.getvalue()


def export_csv(session: Session, rt: CmsRuntime, actor: Actor, filters: Filters) -> str:
    """Every matching sign-up as CSV. Audited (filters and count, no addresses): an
    export is personal data leaving the CMS."""
    rows = session.scalars(_query(actor, filters).order_by(m.NewsletterSignup.id)).all()
    audit.record(
        session,
        actor,
        "newsletter.export",
        "newsletter_signup",
        filters.site_id or "all",
        rt.clock.now(),
        rows=len(rows),
        search=bool(filters.search.strip()),
    )
    session.commit()
    return csv_text(rows)


def delete_signup(session: Session, rt: CmsRuntime, actor: Actor, signup_id: int) -> str:
    """Remove a sign-up (its owner asked); returns its site id. Audited by id only."""
    require(actor, Permission.NEWSLETTER)
    row = session.get(m.NewsletterSignup, signup_id)
    if row is None:
        raise NotFound(f"No sign-up {signup_id}: it may have been deleted already.")
    if not actor.covers_site(row.site_id):
        raise Forbidden(f"you may not work on site {row.site_id}")
    site_id = row.site_id
    session.delete(row)
    audit.record(
        session,
        actor,
        "newsletter.delete",
        "newsletter_signup",
        str(signup_id),
        rt.clock.now(),
        site=site_id,
    )
    session.commit()
    log.info("newsletter sign-up %d (site %s) deleted by %s", signup_id, site_id, actor.username)
    return site_id
