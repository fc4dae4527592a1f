"""Small helpers shared by the UI views."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, TypeVar

from flask import abort, flash, request, url_for
from sqlalchemy.orm import Session

from central_cms import db
from central_cms.auth import current_actor
from central_cms.errors import Invalid
from central_cms.policy import Actor
from central_cms.runtime import CmsRuntime, runtime

Row = TypeVar("Row")


def context() -> tuple[Session, CmsRuntime, Actor]:
    actor = current_actor()
    if actor is None:
        abort(401)
    return db.session(), runtime(), actor


def row_or_404(model: type[Row], key: object) -> Row:
    """The `model` row whose primary key is `key`; the page is not found if there is none."""
    row = db.session().get(model, key)
    if row is None:
        abort(404)
    return row


def editing(model: type[Row], key: str | None) -> Row | None:
    """The row a form edits; None for a new one (no key); not found if the key names none."""
    return row_or_404(model, key) if key else None


def flash_invalid(error: Invalid, *, shown_beside: Collection[str] = ()) -> None:
    """Roll back and flash each problem, except those the page shows beside their field."""
    db.session().rollback()
    for problem in error.problems:
        if problem not in shown_beside:
            flash(problem, "error")


def checkbox(value: str | None) -> bool:
    return value in {"on", "1", "true", "yes"}


def page_url(number: int) -> str:
    """This page's URL with its filters kept and `page=number` (the pager macro's links)."""
    values: dict[str, Any] = {k: v for k, v in request.args.items() if k != "page"}
    values.update(request.view_args or {}, page=number)
    return url_for(request.endpoint or "", **values)
