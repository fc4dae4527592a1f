"""Who is asking: session login for staff, bearer tokens for the API; rate-limited logins.

Permission decisions live in `policy.py`; this module only finds the Actor.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import ParamSpec, TypeVar

from flask import abort, g, redirect, request, session, url_for
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from central_cms import db
from central_cms import models as m
from central_cms.fleet import token_hash
from central_cms.policy import Actor, Permission

P = ParamSpec("P")
R = TypeVar("R")

_WINDOW = timedelta(minutes=15)
# A real hash to compare against for unknown users, so timing does not tell who exists.
_DUMMY_HASH = "scrypt:32768:8:1$k8QdYc1vTnB4o2xq$" + "0" * 128


def actor_of(user: m.User) -> Actor:
    return Actor(user.username, m.Role(user.role), frozenset(user.sites))


def load_session_actor() -> None:
    g.actor = None
    user_id = session.get("uid")
    if user_id is None:
        return
    user = db.session().get(m.User, user_id)
    if user is None or not user.active or session.get("pw") != user.password_hash[-16:]:
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


def too_many_attempts(db_session: Session, keys: list[str], now: datetime, limit: int) -> bool:
    count = db_session.scalar(
        select(func.count())
        .select_from(m.LoginAttempt)
        .where(m.LoginAttempt.key.in_(keys), m.LoginAttempt.at > now - _WINDOW)
    )
    return (count or 0) >= limit


def note_failure(db_session: Session, keys: list[str], now: datetime) -> None:
    db_session.execute(delete(m.LoginAttempt).where(m.LoginAttempt.at < now - _WINDOW))
    for key in keys:
        db_session.add(m.LoginAttempt(key=key, at=now))
    db_session.commit()


def check_login(db_session: Session, username: str, password: str) -> m.User | None:
    user = db_session.scalars(select(m.User).where(m.User.username == username)).first()
    if user is None or not user.active:
        check_password_hash(_DUMMY_HASH, password)
        return None
    return user if check_password_hash(user.password_hash, password) else None
