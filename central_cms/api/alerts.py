"""/alerts: emergency and service notices shown over every campaign."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from central_cms import alerts as alert_service
from central_cms import db
from central_cms import models as m
from central_cms.api.blueprint import actor, all_of, api, operation
from central_cms.api.schemas import AlertIn, AlertOut
from central_cms.api.spec import links
from central_cms.runtime import runtime
from devices.protocol import Severity


@operation("GET", "/alerts")
@api.output(AlertOut(many=True))
def list_alerts() -> Any:
    return all_of(select(m.Alert).order_by(m.Alert.issued_at.desc()))


@operation("POST", "/alerts", errors=(400, 409, 422))
@api.input(AlertIn, arg_name="data")
@api.output(
    AlertOut, status_code=201, links=links("alert_id", {"clear": "post /alerts/{alert_id}/clear"})
)
def send_alert(data: dict[str, Any]) -> Any:
    rt = runtime()
    return alert_service.send_alert(
        db.session(),
        rt,
        actor(),
        scope=data["scope"],
        title=data["title"],
        body=data["body"],
        severity=Severity(data["severity"]),
        expires_at=rt.clock.now() + timedelta(minutes=data["minutes"]),
    )


@operation("POST", "/alerts/<alert_id>/clear", errors=(404,))
@api.output(AlertOut)
def clear_alert(alert_id: str) -> Any:
    return alert_service.clear_alert(db.session(), runtime(), actor(), alert_id)
