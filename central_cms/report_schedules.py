"""Setting up and stopping scheduled report e-mails, for the staff page and the API."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from central_cms import audit
from central_cms import models as m
from central_cms.errors import Invalid, NotFound
from central_cms.policy import Actor, Forbidden, Permission
from central_cms.report_schedule_models import FREQUENCIES, ReportSchedule

MAX_RECIPIENTS = 10
# A plain address: no display names, no header folding, nothing a mail header could abuse.
ADDRESS_PATTERN = r"^[A-Za-z0-9._%+'-]{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})+$"
_ADDRESS = re.compile(ADDRESS_PATTERN)


def parse_recipients(raw: str | Sequence[str]) -> list[str]:
    items = raw.replace(";", ",").split(",") if isinstance(raw, str) else list(raw)
    addresses = [a.strip() for a in items if a.strip()]
    if not addresses:
        raise Invalid("recipients", "Give at least one e-mail address.")
    if len(addresses) > MAX_RECIPIENTS:
        raise Invalid("recipients", f"At most {MAX_RECIPIENTS} addresses per schedule.")
    for address in addresses:
        if not _ADDRESS.fullmatch(address):
            raise Invalid("recipients", f"“{address}” is not an e-mail address like name@city.gov.")
    return list(dict.fromkeys(a.lower() for a in addresses))


def schedules_of(session: Session, campaign_id: str) -> list[ReportSchedule]:
    query = select(ReportSchedule).where(ReportSchedule.campaign_id == campaign_id)
    return list(session.scalars(query.order_by(ReportSchedule.id)))


def add_schedule(
    session: Session,
    actor: Actor,
    campaign: m.Campaign,
    recipients: str | Sequence[str],
    frequency: str,
    now: datetime,
) -> ReportSchedule:
    """A new schedule (committed); the e-mail shows only the sites `actor` may see."""
    if not actor.can(Permission.CAMPAIGN_WRITE):
        raise Forbidden("only staff who write campaigns can e-mail their reports")
    if frequency not in FREQUENCIES:
        raise Invalid("frequency", "Choose weekly or monthly.")
    schedule = ReportSchedule(
        campaign_id=campaign.id,
        frequency=frequency,
        recipients=parse_recipients(recipients),
        sites=[] if actor.all_sites else sorted(actor.sites),
        created_by=actor.username,
        created_at=now,
        last_period="",
    )
    session.add(schedule)
    session.flush()
    audit.record(
        session,
        actor,
        "report_schedule.add",
        "campaign",
        campaign.id,
        now,
        frequency=frequency,
        recipients=len(schedule.recipients),
    )
    session.commit()
    return schedule


def delete_schedule(
    session: Session, actor: Actor, campaign_id: str, schedule_id: int, now: datetime
) -> None:
    # Past the id column's range nothing can be found (and PostgreSQL would refuse it).
    schedule = session.get(ReportSchedule, schedule_id) if 0 < schedule_id < 2**31 else None
    if schedule is None or schedule.campaign_id != campaign_id:
        raise NotFound(f"no report schedule {schedule_id}")
    if not actor.can(Permission.CAMPAIGN_WRITE):
        raise Forbidden("only staff who write campaigns can stop their report e-mails")
    if not actor.all_sites and not set(schedule.sites) <= actor.sites:
        raise Forbidden("this schedule was set up by staff who see more sites than you")
    audit.record(session, actor, "report_schedule.delete", "campaign", schedule.campaign_id, now)
    session.delete(schedule)
    session.commit()
