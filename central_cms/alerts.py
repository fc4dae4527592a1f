"""Alerts: stored, signed and retained per scope (all devices, or one site).

What a scope's devices show is the message retained on its topic: the alert with the
highest revision in that scope. Every message the CMS sends on a scope (send, edit,
clear, or the fallback to another live alert when the one showing is cleared) gets the
next revision, so devices take it over anything sent before (issue 13). The revision
is `max(last + 1, now in ms)`: increasing under the scope's row lock whichever CMS
process sends, and still ahead of what devices saw if the counter is ever lost or the
database restored from a backup.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError
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
        revision=alert.revision,
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
    _lock_scope(session, scope)
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
    _publish(session, rt, alert)
    session.commit()
    return alert


def edit_alert(
    session: Session,
    rt: CmsRuntime,
    actor: Actor,
    alert_id: str,
    *,
    title: str,
    body: str,
    severity: Severity,
    expires_at: datetime,
) -> m.Alert:
    """Change a live alert's words, severity or end; devices replace what they show."""
    alert = _locked(session, actor, alert_id)
    now = rt.clock.now()
    if alert.cleared or alert.expires_at <= now:
        raise Invalid("alert", "This alert has ended: send a new one instead.")
    if not title.strip():
        raise Invalid("title", "Give the alert a title.")
    if expires_at <= now:
        raise Invalid("expires_at", "The expiry must be in the future.")
    alert.title = title.strip()[:200]
    alert.body = body.strip()[:5000]
    alert.severity = severity.value
    alert.expires_at = expires_at
    audit.record(session, actor, "alert.edit", "alert", alert.id, now, title=alert.title)
    _publish(session, rt, alert)  # an edited alert is the one its scope shows
    session.commit()
    return alert


def clear_alert(session: Session, rt: CmsRuntime, actor: Actor, alert_id: str) -> m.Alert:
    alert = _locked(session, actor, alert_id)
    now = rt.clock.now()
    alert.cleared = True
    audit.record(session, actor, "alert.clear", "alert", alert.id, now)
    showing = _latest(session, alert.scope)
    if showing is None or showing.id == alert.id:
        # Devices keep one alert per scope: if another is still live here, it comes back
        # (it is what this page lists as active); otherwise the clear itself goes out.
        live = session.scalars(
            select(m.Alert)
            .where(
                m.Alert.scope == alert.scope,
                m.Alert.id != alert.id,
                m.Alert.cleared.is_(False),
                m.Alert.expires_at > now,
            )
            .order_by(m.Alert.revision.desc(), m.Alert.issued_at.desc())
            .limit(1)
            .execution_options(populate_existing=True)
        ).first()
        _publish(session, rt, live or alert)
    session.commit()
    return alert


def _locked(session: Session, actor: Actor, alert_id: str) -> m.Alert:
    """The alert, re-read once its scope is locked (another process may just have
    changed it)."""
    alert = session.get(m.Alert, alert_id)
    if alert is None:
        raise NotFound(alert_id)
    require(
        actor, Permission.ALERT_WRITE, site_ids=[] if alert.scope == ALL_SCOPE else [alert.scope]
    )
    _lock_scope(session, alert.scope)
    session.refresh(alert)
    return alert


def _lock_scope(session: Session, scope: str) -> None:
    """Hold the scope's counter row (PostgreSQL row lock, SQLite write lock) until the
    caller commits. Taken before any alert row is touched, so two processes working on
    one scope queue instead of deadlocking, and publish in revision order."""
    touch = (
        update(m.AlertScope)
        .where(m.AlertScope.scope == scope)
        .values(revision=m.AlertScope.revision)
        .execution_options(synchronize_session=False)
    )
    for _ in range(2):
        if session.execute(touch).rowcount:  # type: ignore[attr-defined]
            return
        stamped = session.scalar(select(func.max(m.Alert.revision)).where(m.Alert.scope == scope))
        try:
            with session.begin_nested():
                session.add(m.AlertScope(scope=scope, revision=stamped or 0))
            return
        except IntegrityError:
            continue  # another process counted this scope first: wait for its row
    raise RuntimeError(f"could not lock alert scope {scope}")


def _publish(session: Session, rt: CmsRuntime, alert: m.Alert) -> None:
    """Stamp `alert` with its scope's next revision and publish it, retained. The scope
    is locked (`_lock_scope`) and the caller commits afterwards, so the broker receives
    one scope's messages in revision order."""
    now_ms = _epoch_ms(rt.clock.now())
    bump = (
        update(m.AlertScope)
        .where(m.AlertScope.scope == alert.scope)
        .values(
            revision=case(
                (m.AlertScope.revision + 1 > now_ms, m.AlertScope.revision + 1), else_=now_ms
            )
        )
        .returning(m.AlertScope.revision)
        .execution_options(synchronize_session=False)
    )
    alert.revision = int(session.execute(bump).scalar_one())
    session.flush()
    payload = sign(to_message(alert), rt.signing_key)
    rt.publisher.publish(alert_topic(alert.scope), payload, retain=True)


def _epoch_ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _latest(session: Session, scope: str) -> m.Alert | None:
    """The alert whose message the scope's topic retains: the highest revision."""
    return session.scalars(
        select(m.Alert)
        .where(m.Alert.scope == scope)
        .order_by(m.Alert.revision.desc(), m.Alert.issued_at.desc())
        .limit(1)
        .execution_options(populate_existing=True)
    ).first()


def republish(session: Session, rt: CmsRuntime) -> int:
    """After a (re)connect: each scope's retained alert again, read and published under
    the scope's lock, so it can never land after a newer message another process sent."""
    count = 0
    for scope in session.scalars(select(m.Alert.scope).distinct()).all():
        _lock_scope(session, scope)
        latest = _latest(session, scope)
        if latest is not None:
            payload = sign(to_message(latest), rt.signing_key)
            rt.publisher.publish(alert_topic(scope), payload, retain=True)
            count += 1
        session.commit()
    return count
