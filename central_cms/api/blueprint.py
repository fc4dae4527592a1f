"""The API's blueprint and its wiring: bearer tokens, the error handlers, the document's
refinements, and `operation`, the one way a resource module declares an endpoint."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from apiflask import APIBlueprint, HTTPError, HTTPTokenAuth
from sqlalchemy import Select
from werkzeug.exceptions import BadRequest

from central_cms import db
from central_cms.api.error_answers import (
    ERROR_RESPONSES,
    conflict,
    forbidden,
    invalid,
    missing,
    no_token,
    not_json,
    schema_error,
)
from central_cms.api.spec import PREFIX, install_refinements
from central_cms.auth import actor_for_token
from central_cms.errors import Conflict, Forbidden, Invalid, NotFound
from central_cms.policy import Actor

api = APIBlueprint("api", __name__, url_prefix=PREFIX, tag="CMS")
auth = HTTPTokenAuth(scheme="Bearer", description="an API token made by an admin")


def _verify(token: str) -> Actor | None:
    return actor_for_token(token)


auth.verify_token(_verify)
auth.error_processor(no_token)
api.register_error_handler(HTTPError, schema_error)
api.register_error_handler(BadRequest, not_json)
api.register_error_handler(Forbidden, forbidden)
api.register_error_handler(Invalid, invalid)
api.register_error_handler(Conflict, conflict)
api.register_error_handler(NotFound, missing)
api.record_once(install_refinements)


def actor() -> Actor:
    """Who the request's token belongs to."""
    user = auth.current_user
    if not isinstance(user, Actor):  # auth_required guarantees it; keep mypy honest
        raise Forbidden("sign in with an API token")
    return user


View = TypeVar("View", bound=Callable[..., Any])
Row = TypeVar("Row")


def operation(method: str, rule: str, *, errors: Sequence[int] = ()) -> Callable[[View], View]:
    """Route `method rule` to the view, behind an API token, documenting the error answers
    it can give besides 401 and 403 (which come with the token). Put `api.input` and
    `api.output` below it."""
    responses = {code: ERROR_RESPONSES[code] for code in (401, 403, *errors)}

    def register(view: View) -> View:
        documented = api.doc(responses=responses)(view)
        return api.route(rule, methods=[method])(api.auth_required(auth)(documented))

    return register


def all_of(query: Select[Any]) -> Sequence[Any]:
    """Every row a listing's query selects, in its order."""
    return db.session().scalars(query).all()


def row_or_404(model: type[Row], key: object, missing_message: str) -> Row:
    """The `model` row whose primary key is `key`; a 404 saying `missing_message` if none."""
    row = db.session().get(model, key)
    if row is None:
        raise NotFound(missing_message)
    return row
