"""/profiles: screen profiles (size, dwell, night blanking, brightness) devices follow."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from central_cms import db, fleet
from central_cms import models as m
from central_cms.api.blueprint import actor, all_of, api, operation
from central_cms.api.schemas import ProfilePath, ProfileSchema
from central_cms.runtime import runtime


@operation("GET", "/profiles")
@api.output(ProfileSchema(many=True))
def list_profiles() -> Any:
    return all_of(select(m.ScreenProfile).order_by(m.ScreenProfile.id))


@operation("PUT", "/profiles/<profile_id>", errors=(400, 409, 422))
@api.input(ProfilePath, location="path", arg_name="path")
@api.input(ProfileSchema, arg_name="data")
@api.output(ProfileSchema)
def save_profile(profile_id: str, path: dict[str, Any], data: dict[str, Any]) -> Any:
    """Create or replace a screen profile; its devices get new manifests."""
    s = db.session()
    saved = fleet.save_profile(
        s,
        runtime(),
        actor(),
        m.ScreenProfile(**{**data, "id": profile_id, "max_content_age_s": None}),
    )
    s.commit()
    return saved
