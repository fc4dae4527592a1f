"""/campaigns: writing, submitting, approving (by a second person), rejecting and
archiving campaigns."""

from __future__ import annotations

from typing import Any

from flask import request
from sqlalchemy import select

from central_cms import campaigns as campaign_service
from central_cms import db
from central_cms import models as m
from central_cms.api.blueprint import actor, all_of, api, operation
from central_cms.api.schemas import CampaignIn, CampaignOut, RejectIn
from central_cms.api.spec import links
from central_cms.compiler import Targets
from central_cms.runtime import runtime
from devices.protocol import DeviceKind, Fit, ItemKind, ProfileKind, TextSlide
from devices.protocol.layouts import LayoutTemplate

CAMPAIGN_STEPS = {
    "get": "get /campaigns/{campaign_id}",
    "update": "put /campaigns/{campaign_id}",
    "submit": "post /campaigns/{campaign_id}/submit",
    "approve": "post /campaigns/{campaign_id}/approve",
    "reject": "post /campaigns/{campaign_id}/reject",
    "archive": "post /campaigns/{campaign_id}/archive",
}


def campaign_input(data: dict[str, Any]) -> campaign_service.CampaignInput:
    """A `CampaignIn` body as the campaign service takes it."""
    targets = data["targets"]
    return campaign_service.CampaignInput(
        name=data["name"],
        owner_site_id=data["owner_site_id"],
        priority=data["priority"],
        is_default=data["is_default"],
        share_s_per_hour=data["share_s_per_hour"],
        schedules=tuple(campaign_service.parse_schedule(s) for s in data["schedules"]),
        targets=Targets(
            sites=frozenset(targets["sites"]),
            tags=frozenset(targets["tags"]),
            kinds=frozenset(DeviceKind(k) for k in targets["kinds"]),
            profiles=frozenset(targets["profiles"]),
        ),
        items=tuple(
            campaign_service.ItemInput(
                kind=ItemKind(i["kind"]),
                duration_s=i["duration_s"],
                media_id=i["media_id"],
                text=TextSlide(**i["text"]) if i["text"] else None,
                alt_text=i["alt_text"],
                weight=i["weight"],
                fit=Fit(i["fit"]),
                link_url=i["link_url"],
                zone=i["zone"],
            )
            for i in data["items"]
        ),
        layouts=None
        if data["layouts"] is None
        else {ProfileKind(k): LayoutTemplate(v) for k, v in data["layouts"].items()},
        zone_playlists=data["zone_playlists"],
        skip_unable=data["skip_unable"],
    )


@operation("GET", "/campaigns")
@api.output(CampaignOut(many=True))
def list_campaigns() -> Any:
    query = select(m.Campaign).order_by(m.Campaign.id)
    status = request.args.get("status")
    if status:
        query = query.where(m.Campaign.status == status)
    return all_of(query)


@operation("POST", "/campaigns", errors=(400, 409, 422))
@api.input(CampaignIn, arg_name="data")
@api.output(CampaignOut, status_code=201, links=links("campaign_id", CAMPAIGN_STEPS))
def create_campaign(data: dict[str, Any]) -> Any:
    return campaign_service.save(db.session(), runtime(), actor(), campaign_input(data))


@operation("GET", "/campaigns/<campaign_id>", errors=(404,))
@api.output(CampaignOut)
def get_campaign(campaign_id: str) -> Any:
    return campaign_service.get(db.session(), campaign_id)


@operation("PUT", "/campaigns/<campaign_id>", errors=(400, 404, 409, 422))
@api.input(CampaignIn, arg_name="data")
@api.output(CampaignOut)
def update_campaign(campaign_id: str, data: dict[str, Any]) -> Any:
    return campaign_service.save(
        db.session(), runtime(), actor(), campaign_input(data), campaign_id
    )


@operation("POST", "/campaigns/<campaign_id>/submit", errors=(404, 409))
@api.output(CampaignOut)
def submit_campaign(campaign_id: str) -> Any:
    return campaign_service.submit(db.session(), runtime(), actor(), campaign_id)


@operation("POST", "/campaigns/<campaign_id>/approve", errors=(404, 409))
@api.output(CampaignOut)
def approve_campaign(campaign_id: str) -> Any:
    return campaign_service.approve(db.session(), runtime(), actor(), campaign_id)


@operation("POST", "/campaigns/<campaign_id>/reject", errors=(400, 404, 409, 422))
@api.input(RejectIn, arg_name="data")
@api.output(CampaignOut)
def reject_campaign(campaign_id: str, data: dict[str, Any]) -> Any:
    return campaign_service.reject(db.session(), runtime(), actor(), campaign_id, data["note"])


@operation("POST", "/campaigns/<campaign_id>/archive", errors=(404,))
@api.output(CampaignOut)
def archive_campaign(campaign_id: str) -> Any:
    return campaign_service.archive(db.session(), runtime(), actor(), campaign_id)
