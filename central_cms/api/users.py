"""/users: staff accounts, their roles and sites, passwords and sessions (administrators,
as on the Users page)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from central_cms import db, fleet
from central_cms import models as m
from central_cms.api.blueprint import actor, all_of, api, operation
from central_cms.api.schemas import PasswordIn, RoleIn, SignedOutOut, UserIn, UserOut
from central_cms.policy import Permission, require
from central_cms.runtime import runtime


@operation("GET", "/users")
@api.output(UserOut(many=True))
def list_users() -> Any:
    require(actor(), Permission.USER_WRITE)
    return all_of(select(m.User).order_by(m.User.username))


@operation("POST", "/users", errors=(400, 422))
@api.input(UserIn, arg_name="data")
@api.output(UserOut, status_code=201)
def create_user(data: dict[str, Any]) -> Any:
    return fleet.create_user(
        db.session(),
        runtime(),
        actor(),
        username=data["username"],
        password=data["password"],
        role=m.Role(data["role"]),
        display_name=data["display_name"],
        sites=data["sites"],
    )


@operation("PUT", "/users/<username>/role", errors=(400, 404, 422))
@api.input(RoleIn, arg_name="data")
@api.output(UserOut)
def change_role(username: str, data: dict[str, Any]) -> Any:
    """A new role (and, for editors, sites); the user's sessions end."""
    return fleet.change_role(
        db.session(), runtime(), actor(), username, m.Role(data["role"]), data["sites"]
    )


@operation("PUT", "/users/<username>/password", errors=(400, 404, 422))
@api.input(PasswordIn, arg_name="data")
@api.output(UserOut)
def set_password(username: str, data: dict[str, Any]) -> Any:
    """A new password; every session of the user ends."""
    return fleet.set_password(db.session(), runtime(), actor(), username, data["password"])


@operation("POST", "/users/<username>/sign-out", errors=(404,))
@api.output(SignedOutOut)
def sign_out_everywhere(username: str) -> Any:
    ended = fleet.sign_out_everywhere(db.session(), runtime(), actor(), username)
    return {"sessions_ended": ended}
