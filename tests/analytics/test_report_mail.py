"""Scheduled report e-mails (issue 17) through a real SMTP server the test starts
(aiosmtpd on 127.0.0.1): the period just over goes once, with the PDF and the CSV of
the figures the test counted, to the addresses named, and only the sites the person
who set it up may see."""

from __future__ import annotations

import csv
import email
import email.policy
import io
import threading
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller

from central_cms import db as cms_db
from central_cms import models as m
from central_cms.policy import Actor
from central_cms.report_mail import ReportMailer, SmtpSettings, last_period
from central_cms.report_schedules import add_schedule
from central_cms.runtime import runtime
from testkit.brokers import free_port
from tests.analytics.campaign_month import NOW


class Inbox:
    """aiosmtpd's handler: keeps each message with its envelope recipients."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self.arrived = threading.Condition()

    async def handle_DATA(self, server, session, envelope) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.arrived:
            self.messages.append((list(envelope.rcpt_tos), message))
            self.arrived.notify_all()
        return "250 Message accepted"


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, SmtpSettings("127.0.0.1", controller.port, tls=False)
    controller.stop()


def _attachments(message) -> dict[str, bytes]:
    return {part.get_filename(): part.get_content() for part in message.iter_attachments()}


def test_the_monthly_and_weekly_reports_go_once_with_their_pdf_and_csv(month, smtp):
    app, campaign_id, tally, _store = month
    inbox, settings = smtp
    session = cms_db.database(app).sessions()
    campaign = session.get(m.Campaign, campaign_id)
    now = runtime(app).clock.now()
    add_schedule(
        session,
        Actor("comms", m.Role.EDITOR),
        campaign,
        "manager@city.gov, audit@city.gov",
        "monthly",
        now - timedelta(days=20),
    )
    add_schedule(
        session,
        Actor("bondi-editor", m.Role.EDITOR, frozenset({"bondi"})),
        campaign,
        ["bondi-lead@city.gov"],
        "weekly",
        now - timedelta(days=20),
    )
    session.close()
    mailer = ReportMailer(app, settings, "Digital Spaces <reports@city.gov>")
    assert mailer.tick() == 2
    with inbox.arrived:
        assert inbox.arrived.wait_for(lambda: len(inbox.messages) == 2, timeout=30)
    by_recipient = {tuple(rcpt): message for rcpt, message in inbox.messages}

    monthly = by_recipient[("manager@city.gov", "audit@city.gov")]
    assert monthly["Subject"] == "Proof of play: Autumn holiday programme, 01/03/2026 to 31/03/2026"
    assert monthly["From"] == "Digital Spaces <reports@city.gov>"
    files = _attachments(monthly)
    stem = f"proof-of-play-{campaign_id}-2026-03-01-2026-03-31"
    assert set(files) == {f"{stem}.pdf", f"{stem}.csv"}
    assert files[f"{stem}.pdf"].startswith(b"%PDF-")
    rows = list(csv.DictReader(io.StringIO(files[f"{stem}.csv"])))
    assert sum(int(r["plays"]) for r in rows) == tally.total_plays
    assert sum(float(r["shown_s"]) for r in rows) == pytest.approx(tally.total_shown_s)
    assert f"Plays: {tally.total_plays:,}" in monthly.get_body(("plain",)).get_content()

    # Monday 6 April in Perth: the week just over is 30 March to 5 April.
    weekly = by_recipient[("bondi-lead@city.gov",)]
    assert "30/03/2026 to 05/04/2026" in weekly["Subject"]
    (csv_name,) = [name for name in _attachments(weekly) if name.endswith(".csv")]
    week_rows = list(csv.DictReader(io.StringIO(_attachments(weekly)[csv_name])))
    assert {r["site_id"] for r in week_rows} == {"bondi"}  # the editor's site only
    march_30_31 = sum(
        plays
        for (day, device), (plays, _) in tally.day_screen.items()
        if day in ("2026-03-30", "2026-03-31") and device.startswith("sig-bondi")
    )
    assert sum(int(r["plays"]) for r in week_rows if r["day"] <= "2026-03-31") == march_30_31

    # A second tick, or a second CMS process, sends nothing again.
    assert mailer.tick() == 0
    other = ReportMailer(app, settings, "Digital Spaces <reports@city.gov>")
    assert other.tick() == 0
    runtime(app).clock.advance(timedelta(hours=1))
    assert mailer.tick() == 0
    assert len(inbox.messages) == 2


def test_the_period_just_over_is_the_last_whole_week_or_month():
    from datetime import date

    week, key = last_period("weekly", date(2026, 4, 6))
    assert (week.start, week.end, key) == (date(2026, 3, 30), date(2026, 4, 5), "2026-W14")
    month_, key = last_period("monthly", date(2026, 3, 1))
    assert (month_.start, month_.end, key) == (date(2026, 2, 1), date(2026, 2, 28), "2026-02")
    assert NOW.date() == date(2026, 4, 6)


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_the_cms_runs_the_mailer_only_when_smtp_is_configured(config):
    from central_cms.app import create_app
    from central_cms.config import load_config
    from central_cms.publisher import RecordingPublisher
    from central_cms.runtime import parts

    quiet = create_app(config, publisher=RecordingPublisher(), renewal=False)
    assert parts(quiet).mailer is None
    parts(quiet).close()
    env = {
        "DS_CMS_SMTP_URL": "smtp://reports:s%40cret@127.0.0.1:2525",
        "DS_CMS_MAIL_FROM": "a@b.gov",
    }
    loaded = load_config(env=env, instance_path=config.instance_path)
    app = create_app(
        config.with_changes(smtp_url=loaded.smtp_url, mail_from=loaded.mail_from),
        publisher=RecordingPublisher(),
        renewal=False,
    )
    mailer = parts(app).mailer
    assert isinstance(mailer, ReportMailer)
    assert mailer.smtp == SmtpSettings(
        "127.0.0.1", 2525, tls=False, username="reports", password="s@cret"
    )
    assert mailer.sender == "a@b.gov"
    parts(app).close()
