"""/devices: registering screens and hotspots, and sending them signed commands."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from central_cms import db, fleet
from central_cms import models as m
from central_cms.api.blueprint import actor, all_of, api, operation
from central_cms.api.schemas import CommandIn, CommandOut, DeviceIn, DeviceOut, RegistrationOut
from central_cms.runtime import runtime
from devices.protocol import CommandName, DeviceKind


@operation("GET", "/devices")
@api.output(DeviceOut(many=True))
def list_devices() -> Any:
    return all_of(select(m.Device).order_by(m.Device.id))


@operation("POST", "/devices", errors=(400, 409, 422))
@api.input(DeviceIn, arg_name="data")
@api.output(RegistrationOut, status_code=201)
def register_device(data: dict[str, Any]) -> Any:
    registration = fleet.register_device(
        db.session(),
        runtime(),
        actor(),
        device_id=data["id"],
        name=data["name"],
        kind=DeviceKind(data["kind"]),
        site_id=data["site_id"],
        profile_id=data["profile_id"],
        tags=data["tags"],
    )
    return {"device": registration.device, "config_toml": registration.config_toml}


@operation("POST", "/devices/<device_id>/commands", errors=(400, 404, 422))
@api.input(CommandIn, arg_name="data")
@api.output(CommandOut, status_code=202)
def send_command(device_id: str, data: dict[str, Any]) -> Any:
    """Send a signed command (reboot, refresh, screenshot, identify, ...) to one device."""
    command = fleet.send_command(
        db.session(), runtime(), actor(), device_id, CommandName(data["name"]), data["args"]
    )
    return {**command.to_json(), "expires_at": command.expires_at.isoformat()}
