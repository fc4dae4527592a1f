"""Campaign reports e-mailed on a schedule (issue 17): each week (Monday to Sunday) or
month, once it is over in the campaign's site's time zone, the report of that period
goes to the schedule's addresses with the PDF and the CSV attached.

Every CMS process ticks the mailer; the job's lease lets one of them send per tick, and
the schedule's `last_period` (committed after each message) keeps a period from going
twice. SMTP is `CmsConfig.smtp_url`: ``smtp://[user:password@]host:port`` (STARTTLS
when the server offers it) or ``smtps://`` (TLS from the start); empty: no e-mail.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import unquote, urlsplit

from flask import Flask, render_template
from sqlalchemy import select
from sqlalchemy.orm import Session

from central_cms import db
from central_cms import models as m
from central_cms.analytics.campaign_report_data import (
    Period,
    alert_titles,
    campaign_report,
    campaign_zone,
)
from central_cms.analytics.report_exports import render_pdf, report_csv
from central_cms.leases import PeriodicJob, take_lease
from central_cms.report_schedule_models import MONTHLY, WEEKLY, ReportSchedule
from central_cms.runtime import parts, runtime

log = logging.getLogger(__name__)

JOB = "report-mail"
LEASE = timedelta(minutes=10)


def last_period(frequency: str, today: date) -> tuple[Period, str]:
    """The latest whole week (Monday-Sunday) or month before `today`, and its key."""
    if frequency == WEEKLY:
        end = today - timedelta(days=today.weekday() + 1)
        start = end - timedelta(days=6)
        year, week, _ = start.isocalendar()
        return Period(start, end), f"{year}-W{week:02d}"
    if frequency == MONTHLY:
        end = today.replace(day=1) - timedelta(days=1)
        return Period(end.replace(day=1), end), f"{end:%Y-%m}"
    raise ValueError(f"frequency must be {WEEKLY} or {MONTHLY}, not {frequency!r}")


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    tls: bool  # smtps: TLS from the first byte
    username: str = ""
    password: str = ""

    @classmethod
    def parse(cls, url: str) -> SmtpSettings:
        parts_ = urlsplit(url)
        if parts_.scheme not in ("smtp", "smtps") or not parts_.hostname:
            raise ValueError("smtp_url must be smtp://host:port or smtps://host:port")
        return cls(
            host=parts_.hostname,
            port=parts_.port or (465 if parts_.scheme == "smtps" else 25),
            tls=parts_.scheme == "smtps",
            username=unquote(parts_.username or ""),
            password=unquote(parts_.password or ""),
        )

    def send(self, message: EmailMessage) -> None:
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if self.tls:
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=30, context=context)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=30)
        with client:
            if not self.tls and client.has_extn("starttls"):
                client.starttls(context=context)
            if self.username:
                client.login(self.username, self.password)
            client.send_message(message)


def report_message(
    app: Flask, session: Session, schedule: ReportSchedule, period: Period, sender: str
) -> EmailMessage | None:
    """The e-mail for one schedule and period, or None if its campaign is gone."""
    campaign = session.get(m.Campaign, schedule.campaign_id)
    if campaign is None:
        return None
    store = parts(app).analytics.stores.events
    sites = frozenset(schedule.sites) or None
    now = runtime(app).clock.now()
    result = campaign_report(session, store, campaign, period, now, sites)
    alerts = alert_titles(session, result)
    with app.test_request_context():
        html = render_template(
            "analytics/campaign_report_pdf.html", report=result, alert_titles=alerts
        )
        text = render_template(
            "analytics/campaign_report_mail.txt", report=result, schedule=schedule
        )
    message = EmailMessage()
    message["Subject"] = (
        f"Proof of play: {campaign.name}, {period.start:%d/%m/%Y} to {period.end:%d/%m/%Y}"
    )
    message["From"] = sender
    message["To"] = ", ".join(schedule.recipients)
    message["Date"] = formatdate(now.timestamp(), localtime=False)
    message["Message-ID"] = make_msgid(domain="digital-spaces.invalid")
    message.set_content(text)
    stem = f"proof-of-play-{campaign.id}-{period.start.isoformat()}-{period.end.isoformat()}"
    message.add_attachment(
        render_pdf(html), maintype="application", subtype="pdf", filename=f"{stem}.pdf"
    )
    message.add_attachment(
        report_csv(result).encode("utf-8"), maintype="text", subtype="csv", filename=f"{stem}.csv"
    )
    return message


class ReportMailer(PeriodicJob):
    """Sends every schedule's report for the period just over, once."""

    thread_name = "cms-report-mail"

    def __init__(
        self,
        app: Flask,
        smtp: SmtpSettings,
        sender: str,
        interval: timedelta = timedelta(minutes=15),
    ) -> None:
        super().__init__(interval)
        self.app = app
        self.smtp = smtp
        self.sender = sender

    def tick(self) -> int:
        """Send what is due; returns how many e-mails went."""
        now = runtime(self.app).clock.now()
        session = db.database(self.app).sessions()
        sent = 0
        try:
            if not take_lease(session, JOB, self.holder, now, LEASE):
                return 0
            for schedule in session.scalars(select(ReportSchedule).order_by(ReportSchedule.id)):
                sent += self._send_due(session, schedule, now)
        finally:
            session.close()
        return sent

    def _send_due(self, session: Session, schedule: ReportSchedule, now: datetime) -> int:
        campaign = session.get(m.Campaign, schedule.campaign_id)
        if campaign is None or not schedule.recipients:
            return 0
        today = now.astimezone(campaign_zone(session, campaign)).date()
        period, key = last_period(schedule.frequency, today)
        if schedule.last_period == key:
            return 0
        message = report_message(self.app, session, schedule, period, self.sender)
        if message is None:
            return 0
        self.smtp.send(message)
        schedule.last_period, schedule.last_sent_at = key, now
        session.commit()
        log.info(
            "sent the %s report of campaign %s for %s to %d addresses",
            schedule.frequency,
            schedule.campaign_id,
            key,
            len(schedule.recipients),
        )
        return 1
