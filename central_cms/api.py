"""The REST API under /api/v1 (APIFlask: marshmallow schemas, OpenAPI at
/api/v1/openapi.json). Bearer tokens; the same service functions, and so the same
permissions, as the staff UI."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint, HTTPTokenAuth, Schema
from apiflask.fields import Boolean, Dict, File, Float, Integer, List, Nested, String
from apiflask.validators import OneOf, Range
from flask import request
from sqlalchemy import select

from central_cms import alerts as alert_service
from central_cms import campaigns as campaign_service
from central_cms import db, fleet, library
from central_cms import models as m
from central_cms.auth import actor_for_token
from central_cms.compiler import Targets
from central_cms.errors import Forbidden, Invalid, NotFound
from central_cms.policy import Actor
from central_cms.runtime import runtime
from devices.protocol import (
    CommandName,
    DeviceKind,
    Fit,
    ItemKind,
    ProfileKind,
    Severity,
    TextSlide,
)

api = APIBlueprint("api", __name__, url_prefix="/api/v1", tag="CMS")
auth = HTTPTokenAuth(scheme="Bearer", description="an API token made by an admin")


def _verify(token: str) -> Actor | None:
    return actor_for_token(token)


auth.verify_token(_verify)


def _actor() -> Actor:
    actor = auth.current_user
    if not isinstance(actor, Actor):  # auth_required guarantees it; keep mypy honest
        raise Forbidden("sign in with an API token")
    return actor


@api.errorhandler(Forbidden)
def _forbidden(error: Forbidden) -> tuple[dict[str, Any], int]:
    db.session().rollback()
    return {"message": error.reason, "status": 403}, 403


@api.errorhandler(Invalid)
def _invalid(error: Invalid) -> tuple[dict[str, Any], int]:
    db.session().rollback()
    return {"message": error.message, "field": error.field, "problems": error.problems}, 422


@api.errorhandler(NotFound)
def _missing(error: NotFound) -> tuple[dict[str, Any], int]:
    return {"message": f"not found: {error}", "status": 404}, 404


# --- schemas ---------------------------------------------------------------------------


class SiteOut(Schema):
    id = String()
    name = String()
    address = String()
    timezone = String()
    requires_approval = Boolean()


class SiteIn(Schema):
    id = String(required=True)
    name = String(required=True)
    address = String(load_default="")
    timezone = String(load_default="Australia/Perth")
    requires_approval = Boolean(load_default=True)


class DeviceOut(Schema):
    id = String()
    name = String()
    kind = String()
    site_id = String()
    profile_id = String()
    tags = List(String())


class DeviceIn(Schema):
    id = String(required=True)
    name = String(load_default="")
    kind = String(required=True, validate=OneOf([k.value for k in DeviceKind]))
    site_id = String(required=True)
    profile_id = String(required=True)
    tags = List(String(), load_default=[])


class CommandIn(Schema):
    name = String(required=True, validate=OneOf([c.value for c in CommandName]))
    args = Dict(load_default={})


class CommandOut(Schema):
    id = String()
    device_id = String()
    name = String()
    expires_at = String()


class RegistrationOut(Schema):
    device = Nested(DeviceOut)
    config_toml = String(metadata={"description": "shown once: copy it onto the Pi"})


class ProfileSchema(Schema):
    id = String(required=True)
    name = String(required=True)
    kind = String(required=True, validate=OneOf([k.value for k in ProfileKind]))
    width_px = Integer(required=True)
    height_px = Integer(required=True)
    min_dwell_s = Float(load_default=0)
    allow_video = Boolean(load_default=True)
    transitions = Boolean(load_default=True)
    forbid_contact_text = Boolean(
        load_default=False, metadata={"description": "no QR codes, phone numbers or URLs"}
    )
    night_blank_start = String(load_default=None, allow_none=True, metadata={"example": "23:00"})
    night_blank_end = String(load_default=None, allow_none=True, metadata={"example": "05:00"})
    brightness = List(
        Dict(), load_default=[], metadata={"example": [{"at": "06:00", "percent": 80}]}
    )


class MediaOut(Schema):
    id = Integer()
    title = String()
    kind = String()
    sha256 = String()
    width_px = Integer(allow_none=True)
    height_px = Integer(allow_none=True)


class MediaIn(Schema):
    file = File(required=True)  # type: ignore[no-untyped-call]
    title = String(load_default="")
    site_id = String(load_default=None, allow_none=True)


class TextIn(Schema):
    title = String(required=True)
    body = String(load_default="")
    when = String(load_default="")
    venue = String(load_default="")
    shrink_to_fit = Boolean(load_default=False)


class ItemIn(Schema):
    kind = String(required=True, validate=OneOf([k.value for k in ItemKind]))
    duration_s = Float(required=True)
    media_id = Integer(load_default=None, allow_none=True)
    text = Nested(TextIn, load_default=None, allow_none=True)
    alt_text = String(load_default="")
    weight = Integer(load_default=1)
    fit = String(load_default="fit", validate=OneOf([f.value for f in Fit]))
    link_url = String(load_default=None, allow_none=True)


class TargetsIn(Schema):
    sites = List(String(), load_default=[])
    tags = List(String(), load_default=[])
    kinds = List(String(validate=OneOf([k.value for k in DeviceKind])), load_default=[])
    profiles = List(String(), load_default=[])


class CampaignIn(Schema):
    name = String(required=True)
    owner_site_id = String(required=True)
    priority = Integer(load_default=50, validate=Range(0, 100))
    is_default = Boolean(load_default=False)
    schedules = List(
        Dict(),
        load_default=[],
        metadata={
            "description": "ds.manifest/1 Schedule objects: starts_on, ends_on, days, windows"
        },
    )
    targets = Nested(TargetsIn, required=True)
    items = List(Nested(ItemIn), required=True)


class CampaignOut(Schema):
    id = String()
    name = String()
    owner_site_id = String()
    status = String()
    priority = Integer()
    is_default = Boolean()
    schedules = List(Dict())
    targets = Dict()
    created_by = String()
    approved_by = String(allow_none=True)


class RejectIn(Schema):
    note = String(load_default="")


class AlertIn(Schema):
    scope = String(required=True, metadata={"description": "'all' or a site id"})
    title = String(required=True)
    body = String(load_default="")
    severity = String(load_default="warning", validate=OneOf([s.value for s in Severity]))
    minutes = Integer(load_default=60, validate=Range(1, 7 * 24 * 60))


class AlertOut(Schema):
    id = String()
    scope = String()
    severity = String()
    title = String()
    body = String()
    issued_at = String()
    expires_at = String()
    cleared = Boolean()


# --- endpoints -------------------------------------------------------------------------


@api.get("/sites")
@api.auth_required(auth)
@api.output(SiteOut(many=True))
def list_sites() -> Any:
    return db.session().scalars(select(m.Site).order_by(m.Site.name)).all()


@api.post("/sites")
@api.auth_required(auth)
@api.input(SiteIn, arg_name="data")
@api.output(SiteOut, status_code=201)
def create_site(data: dict[str, Any]) -> Any:
    s = db.session()
    site = fleet.save_site(
        s,
        runtime(),
        _actor(),
        site_id=data["id"],
        name=data["name"],
        address=data["address"],
        timezone=data["timezone"],
        requires_approval=data["requires_approval"],
    )
    s.commit()
    return site


@api.get("/profiles")
@api.auth_required(auth)
@api.output(ProfileSchema(many=True))
def list_profiles() -> Any:
    return db.session().scalars(select(m.ScreenProfile).order_by(m.ScreenProfile.id)).all()


@api.put("/profiles/<profile_id>")
@api.auth_required(auth)
@api.input(ProfileSchema, arg_name="data")
@api.output(ProfileSchema)
def save_profile(profile_id: str, data: dict[str, Any]) -> Any:
    """Create or replace a screen profile; its devices get new manifests."""
    s = db.session()
    saved = fleet.save_profile(
        s,
        runtime(),
        _actor(),
        m.ScreenProfile(**{**data, "id": profile_id, "max_content_age_s": None}),
    )
    s.commit()
    return saved


@api.get("/devices")
@api.auth_required(auth)
@api.output(DeviceOut(many=True))
def list_devices() -> Any:
    return db.session().scalars(select(m.Device).order_by(m.Device.id)).all()


@api.post("/devices")
@api.auth_required(auth)
@api.input(DeviceIn, arg_name="data")
@api.output(RegistrationOut, status_code=201)
def register_device(data: dict[str, Any]) -> Any:
    registration = fleet.register_device(
        db.session(),
        runtime(),
        _actor(),
        device_id=data["id"],
        name=data["name"],
        kind=DeviceKind(data["kind"]),
        site_id=data["site_id"],
        profile_id=data["profile_id"],
        tags=data["tags"],
    )
    return {"device": registration.device, "config_toml": registration.config_toml}


@api.post("/devices/<device_id>/commands")
@api.auth_required(auth)
@api.input(CommandIn, arg_name="data")
@api.output(CommandOut, status_code=202)
def send_command(device_id: str, data: dict[str, Any]) -> Any:
    """Send a signed command (reboot, refresh, screenshot, identify, ...) to one device."""
    command = fleet.send_command(
        db.session(), runtime(), _actor(), device_id, CommandName(data["name"]), data["args"]
    )
    return {**command.to_json(), "expires_at": command.expires_at.isoformat()}


@api.get("/media")
@api.auth_required(auth)
@api.output(MediaOut(many=True))
def list_media() -> Any:
    return db.session().scalars(select(m.MediaAsset).order_by(m.MediaAsset.id)).all()


@api.post("/media")
@api.auth_required(auth)
@api.input(MediaIn, location="form_and_files", arg_name="data")
@api.output(MediaOut, status_code=201)
def upload_media(data: dict[str, Any]) -> Any:
    file = data["file"]
    return library.upload(
        db.session(),
        runtime(),
        _actor(),
        filename=file.filename or "upload",
        data=file.read(),
        title=data["title"],
        site_id=data.get("site_id"),
    )


def _campaign_input(data: dict[str, Any]) -> campaign_service.CampaignInput:
    targets = data["targets"]
    return campaign_service.CampaignInput(
        name=data["name"],
        owner_site_id=data["owner_site_id"],
        priority=data["priority"],
        is_default=data["is_default"],
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
            )
            for i in data["items"]
        ),
    )


@api.get("/campaigns")
@api.auth_required(auth)
@api.output(CampaignOut(many=True))
def list_campaigns() -> Any:
    query = select(m.Campaign).order_by(m.Campaign.id)
    status = request.args.get("status")
    if status:
        query = query.where(m.Campaign.status == status)
    return db.session().scalars(query).all()


@api.post("/campaigns")
@api.auth_required(auth)
@api.input(CampaignIn, arg_name="data")
@api.output(CampaignOut, status_code=201)
def create_campaign(data: dict[str, Any]) -> Any:
    return campaign_service.save(db.session(), runtime(), _actor(), _campaign_input(data))


@api.get("/campaigns/<campaign_id>")
@api.auth_required(auth)
@api.output(CampaignOut)
def get_campaign(campaign_id: str) -> Any:
    return campaign_service.get(db.session(), campaign_id)


@api.put("/campaigns/<campaign_id>")
@api.auth_required(auth)
@api.input(CampaignIn, arg_name="data")
@api.output(CampaignOut)
def update_campaign(campaign_id: str, data: dict[str, Any]) -> Any:
    return campaign_service.save(
        db.session(), runtime(), _actor(), _campaign_input(data), campaign_id
    )


@api.post("/campaigns/<campaign_id>/submit")
@api.auth_required(auth)
@api.output(CampaignOut)
def submit_campaign(campaign_id: str) -> Any:
    return campaign_service.submit(db.session(), runtime(), _actor(), campaign_id)


@api.post("/campaigns/<campaign_id>/approve")
@api.auth_required(auth)
@api.output(CampaignOut)
def approve_campaign(campaign_id: str) -> Any:
    return campaign_service.approve(db.session(), runtime(), _actor(), campaign_id)


@api.post("/campaigns/<campaign_id>/reject")
@api.auth_required(auth)
@api.input(RejectIn, arg_name="data")
@api.output(CampaignOut)
def reject_campaign(campaign_id: str, data: dict[str, Any]) -> Any:
    return campaign_service.reject(db.session(), runtime(), _actor(), campaign_id, data["note"])


@api.post("/campaigns/<campaign_id>/archive")
@api.auth_required(auth)
@api.output(CampaignOut)
def archive_campaign(campaign_id: str) -> Any:
    return campaign_service.archive(db.session(), runtime(), _actor(), campaign_id)


@api.get("/alerts")
@api.auth_required(auth)
@api.output(AlertOut(many=True))
def list_alerts() -> Any:
    return db.session().scalars(select(m.Alert).order_by(m.Alert.issued_at.desc())).all()


@api.post("/alerts")
@api.auth_required(auth)
@api.input(AlertIn, arg_name="data")
@api.output(AlertOut, status_code=201)
def send_alert(data: dict[str, Any]) -> Any:
    from datetime import timedelta

    rt = runtime()
    return alert_service.send_alert(
        db.session(),
        rt,
        _actor(),
        scope=data["scope"],
        title=data["title"],
        body=data["body"],
        severity=Severity(data["severity"]),
        expires_at=rt.clock.now() + timedelta(minutes=data["minutes"]),
    )


@api.post("/alerts/<alert_id>/clear")
@api.auth_required(auth)
@api.output(AlertOut)
def clear_alert(alert_id: str) -> Any:
    return alert_service.clear_alert(db.session(), runtime(), _actor(), alert_id)
