"""One JSON shape for every 4xx the API answers, as the document says: the schema, the
descriptions of each status, and the handlers that turn errors into it."""

from __future__ import annotations

from typing import Any

from apiflask import HTTPError, Schema
from apiflask.fields import Integer, List, String
from werkzeug.exceptions import BadRequest

from central_cms import db
from central_cms.errors import Conflict, Forbidden, Invalid, NotFound


class ErrorOut(Schema):
    """Every error the API answers (401, 403, 404, 409, 422, ...)."""

    message = String(required=True, metadata={"description": "what is wrong and how to fix it"})
    status = Integer(required=True, metadata={"description": "the HTTP status, again"})
    field = String(metadata={"description": "409/422: the field at fault, as a dotted path"})
    problems = List(String(), metadata={"description": "409/422: every problem found"})


ERROR_RESPONSES = {
    400: "The body is not JSON",
    401: "No API token, or one that is unknown or revoked",
    403: "The token's user may not do this (role or sites)",
    404: "Nothing of that id",
    409: "Well formed, but it clashes with what the CMS holds now: an id already taken, "
    "a site, profile or media item that does not exist, a campaign in the wrong status, "
    "or content the targeted screens' rules refuse",
    413: "The upload is larger than the CMS accepts",
    422: "The request breaks the schema or a rule stated in it; `field` names where",
}


def error_answer(
    status: int, message: str, field: str | None = None, problems: list[str] | None = None
) -> tuple[dict[str, Any], int]:
    """An `ErrorOut` body and its status."""
    body: dict[str, Any] = {"message": message, "status": status}
    if field is not None:
        body["field"] = field
        body["problems"] = problems or [message]
    return body, status


def flatten(detail: Any, prefix: str = "") -> list[tuple[str, str]]:
    """{'items': {0: {'duration_s': ['Must be ...']}}} -> [('items.0.duration_s', 'Must be ...')]"""
    if isinstance(detail, dict):
        found: list[tuple[str, str]] = []
        for key, value in detail.items():
            found += flatten(value, f"{prefix}.{key}" if prefix else str(key))
        return found
    if isinstance(detail, list) and all(isinstance(m, str) for m in detail):
        return [(prefix or "body", message) for message in detail]
    return [(prefix or "body", str(detail))]


def no_token(error: HTTPError) -> Any:
    # Flask-HTTPAuth adds `WWW-Authenticate: Bearer` to the 401.
    return error_answer(
        error.status_code,
        "Send an API token an admin made for you: `Authorization: Bearer <token>`.",
    )


def schema_error(error: HTTPError) -> Any:
    """The request did not match the schema (webargs/marshmallow): name every field."""
    # webargs nests the messages by location first: {"json": {"items": {0: ...}}}
    detail = error.detail.get("json") or error.detail.get("form_and_files") or error.detail
    problems = [f"{path}: {message}" for path, message in flatten(detail)]
    if not problems:
        return error_answer(error.status_code, str(error.message))
    field = problems[0].split(":", 1)[0]
    return error_answer(error.status_code, problems[0], field, problems)


def not_json(error: BadRequest) -> Any:
    return error_answer(400, "The body is not valid JSON: send UTF-8 JSON as application/json.")


# The service refused: nothing it did in this request may be committed.


def forbidden(error: Forbidden) -> Any:
    db.session().rollback()
    return error_answer(403, error.reason)


def invalid(error: Invalid) -> Any:
    db.session().rollback()
    return error_answer(422, error.message, error.field, error.problems)


def conflict(error: Conflict) -> Any:
    db.session().rollback()
    return error_answer(409, error.message, error.field, error.problems)


def missing(error: NotFound) -> Any:
    db.session().rollback()
    return error_answer(404, f"Nothing called {error}.")
