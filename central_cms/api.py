"""The REST API under /api/v1 (APIFlask: marshmallow schemas, OpenAPI at
/api/v1/openapi.json). Bearer tokens; the same service functions, and so the same
permissions, as the staff UI."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from zoneinfo import available_timezones

from apiflask import APIBlueprint, APIFlask, HTTPError, HTTPTokenAuth, Schema
from apiflask.fields import Boolean, Date, Dict, File, Integer, List, Nested, String
from apiflask.validators import Length
from flask import request
from flask.sansio.blueprints import BlueprintSetupState
from marshmallow import ValidationError
from sqlalchemy import select
from werkzeug.exceptions import BadRequest

from central_cms import alerts as alert_service
from central_cms import campaigns as campaign_service
from central_cms import db, fleet, library
from central_cms import models as m
from central_cms.api_fields import (
    HHMM,
    HTTP_URL,
    INT32_MAX,
    Choice,
    Flag,
    Number,
    Pattern,
    Scalar,
    Text,
    Whole,
)
from central_cms.auth import actor_for_token
from central_cms.compiler import Targets
from central_cms.errors import Conflict, Forbidden, Invalid, NotFound
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
    Weekday,
)
from devices.protocol.base import SHORT_TEXT_MAX
from devices.protocol.topics import ID_PATTERN

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


# --- errors: one JSON shape for every 4xx, as the document says ------------------------


class ErrorOut(Schema):
    """Every error the API answers (401, 403, 404, 409, 422, ...)."""

    message = String(required=True, metadata={"description": "what is wrong and how to fix it"})
    status = Integer(required=True, metadata={"description": "the HTTP status, again"})
    field = String(metadata={"description": "409/422: the field at fault, as a dotted path"})
    problems = List(String(), metadata={"description": "409/422: every problem found"})


View = TypeVar("View", bound=Callable[..., Any])

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


def _errors(*codes: int) -> Callable[[View], View]:
    """Document the error answers an operation can give (401 comes with the token)."""
    return api.doc(responses={code: ERROR_RESPONSES[code] for code in (401, 403, *codes)})


def _error(
    status: int, message: str, field: str | None = None, problems: list[str] | None = None
) -> Any:
    body: dict[str, Any] = {"message": message, "status": status}
    if field is not None:
        body["field"] = field
        body["problems"] = problems or [message]
    return body, status


@auth.error_processor
def _auth_error(error: HTTPError) -> Any:
    # Flask-HTTPAuth adds `WWW-Authenticate: Bearer` to the 401.
    return _error(
        error.status_code,
        "Send an API token an admin made for you: `Authorization: Bearer <token>`.",
    )


@api.errorhandler(HTTPError)
def _schema_error(error: HTTPError) -> Any:
    """The request did not match the schema (webargs/marshmallow): name every field."""
    # webargs nests the messages by location first: {"json": {"items": {0: ...}}}
    detail = error.detail.get("json") or error.detail.get("form_and_files") or error.detail
    problems = [f"{path}: {message}" for path, message in _flatten(detail)]
    if not problems:
        return _error(error.status_code, str(error.message))
    field = problems[0].split(":", 1)[0]
    return _error(error.status_code, problems[0], field, problems)


def _flatten(detail: Any, prefix: str = "") -> list[tuple[str, str]]:
    """{'items': {0: {'duration_s': ['Must be ...']}}} -> [('items.0.duration_s', 'Must be ...')]"""
    if isinstance(detail, dict):
        found: list[tuple[str, str]] = []
        for key, value in detail.items():
            found += _flatten(value, f"{prefix}.{key}" if prefix else str(key))
        return found
    if isinstance(detail, list) and all(isinstance(m, str) for m in detail):
        return [(prefix or "body", message) for message in detail]
    return [(prefix or "body", str(detail))]


@api.errorhandler(BadRequest)
def _not_json(error: BadRequest) -> Any:
    return _error(400, "The body is not valid JSON: send UTF-8 JSON as application/json.")


@api.errorhandler(Forbidden)
def _forbidden(error: Forbidden) -> Any:
    db.session().rollback()
    return _error(403, error.reason)


@api.errorhandler(Invalid)
def _invalid(error: Invalid) -> Any:
    db.session().rollback()
    return _error(422, error.message, error.field, error.problems)


@api.errorhandler(Conflict)
def _conflict(error: Conflict) -> Any:
    db.session().rollback()
    return _error(409, error.message, error.field, error.problems)


@api.errorhandler(NotFound)
def _missing(error: NotFound) -> Any:
    db.session().rollback()
    return _error(404, f"Nothing called {error}.")


# --- schemas ---------------------------------------------------------------------------
# Bounds follow the database columns (central_cms/models.py) and the wire contract
# (devices/protocol), so a request the document allows never fails further in.

ID_RULE = "1-64 lowercase letters, digits and '-', not starting or ending with '-'"


def Id(**kwargs: Any) -> String:
    return String(
        validate=Pattern(ID_PATTERN, error=f"Use {ID_RULE}."),
        metadata={"description": ID_RULE, **kwargs.pop("metadata", {})},
        **kwargs,
    )


class SiteOut(Schema):
    id = String()
    name = String()
    address = String()
    timezone = String()
    requires_approval = Boolean()


class SiteIn(Schema):
    id = Id(required=True)
    name = Text(max_length=200, required_text=True, required=True)
    address = Text(max_length=300, load_default="")
    timezone = Choice(sorted(available_timezones()), load_default="Australia/Perth")
    requires_approval = Flag(load_default=True)


class DeviceOut(Schema):
    id = String()
    name = String()
    kind = String()
    site_id = String()
    profile_id = String()
    tags = List(String())


class DeviceIn(Schema):
    id = Id(required=True)
    name = Text(max_length=200, load_default="")
    kind = Choice([k.value for k in DeviceKind], required=True)
    site_id = Text(max_length=64, required=True)
    profile_id = Text(max_length=64, required=True)
    tags = List(Id(), load_default=[], validate=Length(max=50))


def _at_most_20_args(args: dict[str, Any]) -> None:
    if len(args) > 20:
        raise ValidationError("Send at most 20 arguments.")


class CommandIn(Schema):
    name = Choice([c.value for c in CommandName], required=True)
    args = Dict(
        keys=String(validate=Length(max=64)),
        values=Scalar(),
        load_default={},
        validate=_at_most_20_args,
        metadata={
            "description": 'flat: strings, numbers, booleans or null, e.g. {"seconds": 30}',
            "maxProperties": 20,
        },
    )


class CommandOut(Schema):
    id = String()
    device_id = String()
    name = String()
    expires_at = String()


class RegistrationOut(Schema):
    device = Nested(DeviceOut)
    config_toml = String(metadata={"description": "shown once: copy it onto the Pi"})


class BrightnessStepSchema(Schema):
    at = String(required=True, validate=Pattern(HHMM, error="Use HH:MM, e.g. 06:00."))
    percent = Whole(minimum=0, maximum=100, required=True)


class ProfilePath(Schema):
    profile_id = Id(required=True)


class ProfileSchema(Schema):
    id = String(
        load_default=None,
        metadata={
            "description": "ignored: the path names the profile (once required here)",
            "deprecated": True,
        },
    )
    name = Text(max_length=200, required_text=True, required=True)
    kind = Choice([k.value for k in ProfileKind], required=True)
    width_px = Whole(minimum=16, maximum=7680, required=True)
    height_px = Whole(minimum=16, maximum=4320, required=True)
    min_dwell_s = Number(minimum=0, maximum=3600, load_default=0)
    allow_video = Flag(load_default=True)
    transitions = Flag(load_default=True)
    forbid_contact_text = Flag(
        load_default=False, metadata={"description": "no QR codes, phone numbers or URLs"}
    )
    night_blank_start = String(
        load_default=None,
        allow_none=True,
        validate=Pattern(HHMM, error="Use HH:MM, e.g. 23:00."),
        metadata={"example": "23:00"},
    )
    night_blank_end = String(
        load_default=None,
        allow_none=True,
        validate=Pattern(HHMM, error="Use HH:MM, e.g. 05:00."),
        metadata={"example": "05:00"},
    )
    brightness = List(
        Nested(BrightnessStepSchema),
        load_default=[],
        validate=Length(max=48),
        metadata={"example": [{"at": "06:00", "percent": 80}]},
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
    title = Text(max_length=200, load_default="")
    site_id = String(load_default=None, allow_none=True, validate=Length(max=64))


class TextIn(Schema):
    title = Text(max_length=SHORT_TEXT_MAX, required_text=True, required=True)
    body = Text(max_length=5000, load_default="")
    when = Text(max_length=SHORT_TEXT_MAX, load_default="")
    venue = Text(max_length=SHORT_TEXT_MAX, load_default="")
    shrink_to_fit = Flag(load_default=False)


class ItemIn(Schema):
    kind = Choice([k.value for k in ItemKind], required=True)
    duration_s = Number(minimum=1, maximum=3600, required=True)
    media_id = Whole(
        minimum=1,
        maximum=INT32_MAX,
        load_default=None,
        allow_none=True,
        metadata={"description": "an image or video from /media (not for text slides)"},
    )
    text = Nested(
        TextIn,
        load_default=None,
        allow_none=True,
        metadata={"description": "the slide's words (text slides only)"},
    )
    alt_text = Text(max_length=200, load_default="")
    weight = Whole(minimum=1, maximum=100, load_default=1)
    fit = Choice([f.value for f in Fit], load_default="fit")
    link_url = String(
        load_default=None,
        allow_none=True,
        validate=[Length(max=2048), Pattern(HTTP_URL, error="Use an http(s):// URL.")],
    )


class WindowIn(Schema):
    start = String(required=True, validate=Pattern(HHMM, error="Use HH:MM, e.g. 09:00."))
    end = String(required=True, validate=Pattern(HHMM, error="Use HH:MM, e.g. 17:30."))


class ScheduleIn(Schema):
    starts_on = Date(load_default=None, allow_none=True)
    ends_on = Date(
        load_default=None, allow_none=True, metadata={"description": "on or after starts_on"}
    )
    days = List(Choice([d.value for d in Weekday]), load_default=[], validate=Length(max=7))
    windows = List(Nested(WindowIn), load_default=[], validate=Length(max=24))


class TargetsIn(Schema):
    sites = List(Id(), load_default=[], validate=Length(max=200))
    tags = List(Id(), load_default=[], validate=Length(max=200))
    kinds = List(Choice([k.value for k in DeviceKind]), load_default=[])
    profiles = List(Id(), load_default=[], validate=Length(max=200))


class CampaignIn(Schema):
    name = Text(max_length=200, required_text=True, required=True)
    owner_site_id = Text(max_length=64, required=True)
    priority = Whole(minimum=0, maximum=100, load_default=50)
    is_default = Flag(load_default=False)
    share_s_per_hour = Whole(
        minimum=1,
        maximum=3600,
        load_default=None,
        allow_none=True,
        metadata={"description": "guaranteed seconds of every clock hour it is scheduled"},
    )
    schedules = List(
        Nested(ScheduleIn),
        load_default=[],
        validate=Length(max=50),
        metadata={"description": "when it may show (site time); none: always"},
    )
    targets = Nested(
        TargetsIn,
        required=True,
        metadata={"description": "at least one site, tag, kind or profile"},
    )
    items = List(Nested(ItemIn), required=True, validate=Length(min=1, max=100))


class CampaignOut(Schema):
    id = String()
    name = String()
    owner_site_id = String()
    status = String()
    priority = Integer()
    is_default = Boolean()
    share_s_per_hour = Integer(allow_none=True)
    schedules = List(Dict())
    targets = Dict()
    created_by = String()
    approved_by = String(allow_none=True)


class RejectIn(Schema):
    note = Text(max_length=2000, load_default="")


class AlertIn(Schema):
    scope = Text(max_length=64, required=True, metadata={"description": "'all' or a site id"})
    title = Text(max_length=200, required_text=True, required=True)
    body = Text(max_length=5000, load_default="")
    severity = Choice([s.value for s in Severity], load_default="warning")
    minutes = Whole(minimum=1, maximum=7 * 24 * 60, load_default=60)


class AlertOut(Schema):
    id = String()
    scope = String()
    severity = String()
    title = String()
    body = String()
    issued_at = String()
    expires_at = String()
    cleared = Boolean()


def _refine_spec(spec: dict[Any, Any] | str) -> dict[Any, Any] | str:
    """Say in the document what marshmallow cannot: rules across fields, and that a body
    with required fields is itself required. Without them a client (or schemathesis)
    meets a 422 it could not have predicted."""
    if isinstance(spec, str):  # SPEC_PROCESSOR_PASS_OBJECT is off: always the dict
        return spec
    schemas = spec["components"]["schemas"]
    # apispec has no keyword for the keys of a Dict field.
    schemas["CommandIn"]["properties"]["args"]["propertyNames"] = {"maxLength": 64}
    schemas["TargetsIn"]["anyOf"] = [
        {"required": [name], "properties": {name: {"minItems": 1}}}
        for name in ("sites", "tags", "kinds", "profiles")
    ]
    schemas["ItemIn"]["if"] = {"properties": {"kind": {"const": ItemKind.TEXT.value}}}
    schemas["ItemIn"]["then"] = {"required": ["text"], "properties": {"text": {"type": "object"}}}
    schemas["ItemIn"]["else"] = {
        "required": ["media_id"],
        "properties": {"media_id": {"type": "integer"}},
    }
    for operations in spec["paths"].values():
        for operation in operations.values():
            for content in operation.get("requestBody", {}).get("content", {}).values():
                ref = content.get("schema", {}).get("$ref", "")
                if schemas.get(ref.rsplit("/", 1)[-1], {}).get("required"):
                    operation["requestBody"]["required"] = True
    return spec


def _install_spec_refinements(state: BlueprintSetupState) -> None:
    app = state.app
    if isinstance(app, APIFlask):
        app.spec_processor(_refine_spec)


api.record_once(_install_spec_refinements)


def _links(parameter: str, steps: dict[str, str]) -> dict[str, Any]:
    """OpenAPI links from a created resource to what can be done with it next."""

    def ref(step: str) -> str:
        method, path = step.split(" ", 1)
        escaped = f"/api/v1{path}".replace("~", "~0").replace("/", "~1")
        return f"#/paths/{escaped}/{method}"

    return {
        name: {"operationRef": ref(step), "parameters": {parameter: "$response.body#/id"}}
        for name, step in steps.items()
    }


CAMPAIGN_STEPS = {
    "get": "get /campaigns/{campaign_id}",
    "update": "put /campaigns/{campaign_id}",
    "submit": "post /campaigns/{campaign_id}/submit",
    "approve": "post /campaigns/{campaign_id}/approve",
    "reject": "post /campaigns/{campaign_id}/reject",
    "archive": "post /campaigns/{campaign_id}/archive",
}


# --- endpoints -------------------------------------------------------------------------


@api.get("/sites")
@api.auth_required(auth)
@_errors()
@api.output(SiteOut(many=True))
def list_sites() -> Any:
    return db.session().scalars(select(m.Site).order_by(m.Site.name)).all()


@api.post("/sites")
@api.auth_required(auth)
@_errors(400, 422)
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
@_errors()
@api.output(ProfileSchema(many=True))
def list_profiles() -> Any:
    return db.session().scalars(select(m.ScreenProfile).order_by(m.ScreenProfile.id)).all()


@api.put("/profiles/<profile_id>")
@api.auth_required(auth)
@_errors(400, 409, 422)
@api.input(ProfilePath, location="path", arg_name="path")
@api.input(ProfileSchema, arg_name="data")
@api.output(ProfileSchema)
def save_profile(profile_id: str, path: dict[str, Any], data: dict[str, Any]) -> Any:
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
@_errors()
@api.output(DeviceOut(many=True))
def list_devices() -> Any:
    return db.session().scalars(select(m.Device).order_by(m.Device.id)).all()


@api.post("/devices")
@api.auth_required(auth)
@_errors(400, 409, 422)
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
@_errors(400, 404, 422)
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
@_errors()
@api.output(MediaOut(many=True))
def list_media() -> Any:
    return db.session().scalars(select(m.MediaAsset).order_by(m.MediaAsset.id)).all()


@api.post("/media")
@api.auth_required(auth)
@_errors(409, 413, 422)
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
            )
            for i in data["items"]
        ),
    )


@api.get("/campaigns")
@api.auth_required(auth)
@_errors()
@api.output(CampaignOut(many=True))
def list_campaigns() -> Any:
    query = select(m.Campaign).order_by(m.Campaign.id)
    status = request.args.get("status")
    if status:
        query = query.where(m.Campaign.status == status)
    return db.session().scalars(query).all()


@api.post("/campaigns")
@api.auth_required(auth)
@_errors(400, 409, 422)
@api.input(CampaignIn, arg_name="data")
@api.output(CampaignOut, status_code=201, links=_links("campaign_id", CAMPAIGN_STEPS))
def create_campaign(data: dict[str, Any]) -> Any:
    return campaign_service.save(db.session(), runtime(), _actor(), _campaign_input(data))


@api.get("/campaigns/<campaign_id>")
@api.auth_required(auth)
@_errors(404)
@api.output(CampaignOut)
def get_campaign(campaign_id: str) -> Any:
    return campaign_service.get(db.session(), campaign_id)


@api.put("/campaigns/<campaign_id>")
@api.auth_required(auth)
@_errors(400, 404, 409, 422)
@api.input(CampaignIn, arg_name="data")
@api.output(CampaignOut)
def update_campaign(campaign_id: str, data: dict[str, Any]) -> Any:
    return campaign_service.save(
        db.session(), runtime(), _actor(), _campaign_input(data), campaign_id
    )


@api.post("/campaigns/<campaign_id>/submit")
@api.auth_required(auth)
@_errors(404, 409)
@api.output(CampaignOut)
def submit_campaign(campaign_id: str) -> Any:
    return campaign_service.submit(db.session(), runtime(), _actor(), campaign_id)


@api.post("/campaigns/<campaign_id>/approve")
@api.auth_required(auth)
@_errors(404, 409)
@api.output(CampaignOut)
def approve_campaign(campaign_id: str) -> Any:
    return campaign_service.approve(db.session(), runtime(), _actor(), campaign_id)


@api.post("/campaigns/<campaign_id>/reject")
@api.auth_required(auth)
@_errors(400, 404, 409, 422)
@api.input(RejectIn, arg_name="data")
@api.output(CampaignOut)
def reject_campaign(campaign_id: str, data: dict[str, Any]) -> Any:
    return campaign_service.reject(db.session(), runtime(), _actor(), campaign_id, data["note"])


@api.post("/campaigns/<campaign_id>/archive")
@api.auth_required(auth)
@_errors(404)
@api.output(CampaignOut)
def archive_campaign(campaign_id: str) -> Any:
    return campaign_service.archive(db.session(), runtime(), _actor(), campaign_id)


@api.get("/alerts")
@api.auth_required(auth)
@_errors()
@api.output(AlertOut(many=True))
def list_alerts() -> Any:
    return db.session().scalars(select(m.Alert).order_by(m.Alert.issued_at.desc())).all()


@api.post("/alerts")
@api.auth_required(auth)
@_errors(400, 409, 422)
@api.input(AlertIn, arg_name="data")
@api.output(
    AlertOut, status_code=201, links=_links("alert_id", {"clear": "post /alerts/{alert_id}/clear"})
)
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
@_errors(404)
@api.output(AlertOut)
def clear_alert(alert_id: str) -> Any:
    return alert_service.clear_alert(db.session(), runtime(), _actor(), alert_id)
