"""The audit log: one row per change, written in the same transaction as the change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from central_cms.models import AuditEntry
from central_cms.policy import Actor


def record(
    session: Session,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: str,
    at: datetime,
    **detail: Any,
) -> None:
    session.add(
        AuditEntry(
            at=at,
            username=actor.username,
            action=action,
            entity_type=entity_type,
            entity_id=str(entity_id),
            detail=detail,
        )
    )
