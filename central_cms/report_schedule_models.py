"""Scheduled e-mails of campaign reports (issue 17): who gets which campaign's report,
how often, and which period went out last (so a re-run or a second process never sends
a period twice)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from central_cms.models import Base, Timestamp

WEEKLY, MONTHLY = "weekly", "monthly"
FREQUENCIES = (WEEKLY, MONTHLY)


class ReportSchedule(Base):
    __tablename__ = "report_schedules"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[str] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    frequency: Mapped[str] = mapped_column(String(16))
    # Staff's own addresses, named by whoever set the schedule up.
    recipients: Mapped[list[Any]] = mapped_column(default=list)
    # The sites the creator could see (empty: all): the e-mail shows no more than that.
    sites: Mapped[list[Any]] = mapped_column(default=list)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    last_period: Mapped[str] = mapped_column(String(16), default="")  # "2026-03", "2026-W09"
    last_sent_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
