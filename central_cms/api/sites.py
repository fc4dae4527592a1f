"""/sites: the places screens and hotspots stand."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from central_cms import db, fleet
from central_cms import models as m
from central_cms.api.blueprint import actor, all_of, api, operation
from central_cms.api.schemas import SiteIn, SiteOut
from central_cms.runtime import runtime


@operation("GET", "/sites")
@api.output(SiteOut(many=True))
def list_sites() -> Any:
    return all_of(select(m.Site).order_by(m.Site.name))


@operation("POST", "/sites", errors=(400, 422))
@api.input(SiteIn, arg_name="data")
@api.output(SiteOut, status_code=201)
def create_site(data: dict[str, Any]) -> Any:
    s = db.session()
    site = fleet.save_site(
        s,
        runtime(),
        actor(),
        site_id=data["id"],
        name=data["name"],
        address=data["address"],
        timezone=data["timezone"],
        requires_approval=data["requires_approval"],
    )
    s.commit()
    return site
