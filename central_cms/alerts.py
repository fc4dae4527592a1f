"""Alerts: stored, signed and retained per scope (all devices, or one site)."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from central_cms import audit
from central_cms import models as m
from central_cms.errors import Conflict, Invalid, NotFound
from central_cms.policy import Actor, Permission, require
from central_cms.runtime import CmsRuntime
from devices.protocol import ALL_SCOPE, Alert, DeviceKind, Severity, alert_topic, sign


def to_message(alert: m.Alert) -> Alert:
    return Alert(
        id=alert.id,
        scope=alert.scope,
        severity=Severity(alert.severity),
        title=alert.title,
        body=alert.body,
        issued_at=alert.issued_at,
        expires_at=alert.expires_at,
        cleared=alert.cleared,
        kinds=tuple(DeviceKind(k) for k in alert.kinds),
    )


def send_alert(
    session: Session,
    rt: CmsRuntime,
    actor: Actor,
    *,
    scope: str,
    title: str,
    body: str,
    severity: Severity,
    expires_at: datetime,
    kinds: tuple[DeviceKind, ...] = (),
) -> m.Alert:
    require(actor, Permission.ALERT_WRITE)
    if scope == ALL_SCOPE:
        if not actor.all_sites:
            raise Invalid("scope", "You may send alerts to your own sites only.")
    else:
        if session.get(m.Site, scope) is None:
            raise Conflict("scope", "Choose all sites or one site.")
        require(actor, Permission.ALERT_WRITE, site_ids=[scope])
    now = rt.clock.now()
    if not title.strip():
        raise Invalid("title", "Give the alert a title.")
    if expires_at <= now:
        raise Invalid("expires_at", "The expiry must be in the future.")
    alert = m.Alert(
        id=f"alert-{secrets.token_hex(6)}",
        scope=scope,
        severity=severity.value,
        title=title.strip()[:200],
        body=body.strip()[:5000],
        kinds=[k.value for k in kinds],
        issued_at=now,
        expires_at=expires_at,
        cleared=False,
        created_by=actor.username,
    )
    session.add(alert)
    audit.record(session, actor, "alert.send", "alert", alert.id, now, scope=scope, title=title)
    payload = sign(to_message(alert), rt.signing_key)
    rt.publisher.publish(alert_topic(scope), payload, retain=True)
    session.commit()
    return alert


def clear_alert(session: Session, rt: CmsRuntime, actor: Actor, alert_id: str) -> m.Alert:
    alert = session.get(m.Alert, alert_id)
    if alert is None:
        raise NotFound(alert_id)
    require(
        actor, Permission.ALERT_WRITE, site_ids=[] if alert.scope == ALL_SCOPE else [alert.scope]
    )
    alert.cleared = True
    audit.record(session, actor, "alert.clear", "alert", alert.id, rt.clock.now())
    latest = _latest(session, alert.scope)
    if latest is None or latest.id == alert.id:
        rt.publisher.publish(
            alert_topic(alert.scope), sign(to_message(alert), rt.signing_key), retain=True
        )
    session.commit()
    return alert


def _latest(session: Session, scope: str) -> m.Alert | None:
    return session.scalars(
        select(m.Alert).where(m.Alert.scope == scope).order_by(m.Alert.issued_at.desc()).limit(1)
    ).first()


def latest_payloads(session: Session, rt: CmsRuntime) -> dict[str, bytes]:
    """The retained alert of every scope that has one (signatures are deterministic)."""
    scopes = session.scalars(select(m.Alert.scope).distinct()).all()
    found: dict[str, bytes] = {}
    for scope in scopes:
        latest = _latest(session, scope)
        if latest is not None:
            found[scope] = sign(to_message(latest), rt.signing_key)
    return found
