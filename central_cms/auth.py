"""Who is asking: session login for staff, bearer tokens for the API; rate-limited logins.

Permission decisions live in `policy.py`; this module only finds the Actor.

Staff sessions are rows (`StaffSession`), not just a signed cookie: the cookie carries a
random token, and ending a session deletes its row, so a copy of the cookie stops
working too (issue 13, point 12).
"""

from __future__ import annotations

import functools
import secrets
import unicodedata
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import ParamSpec, TypeVar
from urllib.parse import urlsplit

from flask import abort, g, redirect, request, session, url_for
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from central_cms import db
from central_cms import models as m
from central_cms.fleet import token_hash
from central_cms.policy import Actor, Permission
from central_cms.runtime import runtime

P = ParamSpec("P")
R = TypeVar("R")

_WINDOW = timedelta(minutes=15)
# A session older than this is over, however often it was used: sign in again.
SESSION_LIFETIME = timedelta(days=30)
# A real hash to compare against for unknown users, so timing does not tell who exists.
_DUMMY_HASH = "scrypt:32768:8:1$k8QdYc1vTnB4o2xq$" + "0" * 128


def actor_of(user: m.User) -> Actor:
    return Actor(user.username, m.Role(user.role), frozenset(user.sites))


def start_session(db_session: Session, user: m.User, now: datetime) -> str:
    """A new session row for `user`; returns the token for the cookie (never stored)."""
    db_session.execute(
        delete(m.StaffSession).where(m.StaffSession.created_at < now - SESSION_LIFETIME)
    )
    token = secrets.token_urlsafe(32)
    db_session.add(m.StaffSession(id=token_hash(token), user_id=user.id, created_at=now))
    db_session.commit()
    return token


def end_session(db_session: Session, token: str) -> None:
    db_session.execute(delete(m.StaffSession).where(m.StaffSession.id == token_hash(token)))
    db_session.commit()


def load_session_actor() -> None:
    g.actor = None
    token = session.get("sid")
    if not isinstance(token, str):
        return
    db_session = db.session()
    row = db_session.get(m.StaffSession, token_hash(token))
    now = runtime().clock.now()
    user = db_session.get(m.User, row.user_id) if row is not None else None
    if row is None or user is None or not user.active or row.created_at < now - SESSION_LIFETIME:
        session.clear()
        return
    g.actor = actor_of(user)


def current_actor() -> Actor | None:
    actor: Actor | None = g.get("actor")
    return actor


def actor_for_token(token: str) -> Actor | None:
    row = (
        db.session()
        .scalars(select(m.ApiToken).where(m.ApiToken.token_hash == token_hash(token)))
        .first()
    )
    if row is None or not row.user.active:
        return None
    return actor_of(row.user)


def login_required(view: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        if current_actor() is None:
            return redirect(url_for("auth.login", next=request.path))  # type: ignore[return-value]
        return view(*args, **kwargs)

    return wrapped


def permission_required(permission: Permission) -> Callable[[Callable[P, R]], Callable[P, R]]:
    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
            actor = current_actor()
            if actor is None:
                return redirect(url_for("auth.login", next=request.path))  # type: ignore[return-value]
            if not actor.can(permission):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorate


def _failures(db_session: Session, since: datetime, *conditions: object) -> int:
    count = db_session.scalar(
        select(func.count())
        .select_from(m.LoginAttempt)
        .where(m.LoginAttempt.at > since, *conditions)  # type: ignore[arg-type]
    )
    return count or 0


def login_refusal(
    db_session: Session, username: str, address: str, now: datetime, limit: int
) -> str | None:
    """Why this login attempt is refused before its password is checked, or None.

    Failures count per address and per user separately, one row each (issue 13): an
    address with `limit` failures is locked out for 15 minutes, whoever it tries. A user
    with `limit` failures from anywhere is throttled, not locked: each address that has
    already failed for them waits out the 15 minutes, while an address that never failed
    keeps its one try, so someone guessing from many addresses cannot lock staff out."""
    since = now - _WINDOW
    if _failures(db_session, since, m.LoginAttempt.address == address) >= limit:
        return "Too many failed attempts from your network. Wait 15 minutes and try again."
    name = username.lower()
    if _failures(db_session, since, m.LoginAttempt.username == name) >= limit and _failures(
        db_session, since, m.LoginAttempt.username == name, m.LoginAttempt.address == address
    ):
        return "Too many failed attempts for this user. Wait 15 minutes and try again."
    return None


def note_failure(db_session: Session, username: str, address: str, now: datetime) -> None:
    db_session.execute(delete(m.LoginAttempt).where(m.LoginAttempt.at < now - _WINDOW))
    db_session.add(m.LoginAttempt(username=username.lower()[:100], address=address[:64], at=now))
    db_session.commit()


def safe_next(target: str | None, fallback: str) -> str:
    """`target` if it is a path on this site, else `fallback`: never an open redirect.

    Browsers drop tabs and newlines inside a URL and read a backslash as a slash, so
    `/<TAB>/evil.example` would become `//evil.example` (issue 13, point 9): remove control
    and invisible format characters first, refuse backslashes, then require no scheme,
    no host and a path of our own."""
    if not target:
        return fallback
    cleaned = "".join(ch for ch in target if unicodedata.category(ch) not in {"Cc", "Cf"})
    cleaned = cleaned.strip()
    if "\\" in cleaned or not cleaned.startswith("/") or cleaned.startswith("//"):
        return fallback
    parts = urlsplit(cleaned)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return fallback
    return cleaned


def check_login(db_session: Session, username: str, password: str) -> m.User | None:
    user = db_session.scalars(select(m.User).where(m.User.username == username)).first()
    if user is None or not user.active:
        check_password_hash(_DUMMY_HASH, password)
        return None
    return user if check_password_hash(user.password_hash, password) else None
