"""The bodies of the proof-of-play report endpoints (issue 17): the query that picks the
period, the report, and the e-mail schedules."""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Date, DateTime, Float, Integer, List, Nested, String
from apiflask.validators import Length

from central_cms.api.fields import Choice, Pattern
from central_cms.report_schedule_models import FREQUENCIES
from central_cms.report_schedules import ADDRESS_PATTERN, MAX_RECIPIENTS

MONTH = r"^[0-9]{4}-(0[1-9]|1[0-2])$"


class ReportQuery(Schema):
    """A month, or a first and last day (local days of the campaign's site); neither:
    the campaign's run so far, or the last 30 days."""

    month = String(
        validate=Pattern(MONTH, error="Use YYYY-MM, e.g. 2026-03."),
        metadata={"description": "a calendar month, e.g. 2026-03; wins over start/end"},
    )
    start = Date(metadata={"description": "first local day, e.g. 2026-03-01"})
    end = Date(metadata={"description": "last local day, e.g. 2026-03-31"})
    site = String(
        validate=Length(max=64),
        metadata={"description": "one site's screens only (one the token's user may see)"},
    )


class FiguresOut(Schema):
    plays = Integer()
    shown_s = Float()
    play_length_s = Float(metadata={"description": "what the plays were meant to last"})
    on_air_s = Float(metadata={"description": "how long the schedule had it on air"})
    guaranteed_s = Float()
    share_of_voice = Float(allow_none=True, metadata={"description": "shown_s / on_air_s"})
    achieved = Float(allow_none=True, metadata={"description": "shown_s / guaranteed_s"})


class ReportRowOut(FiguresOut):
    name = String()
    site = String()
    site_id = String()
    device_id = String()
    day = String()
    item_id = String()


class OtherContentOut(Schema):
    source = String(metadata={"description": "alert or default"})
    alert_id = String()
    plays = Integer()
    shown_s = Float()
    screens = Integer()


class CampaignReportOut(Schema):
    campaign_id = String()
    name = String()
    start = String()
    end = String()
    guaranteed_s_per_hour = Integer(allow_none=True)
    total = Nested(FiguresOut)
    screens_targeted = Integer()
    screens_reached = Integer()
    sites_targeted = Integer()
    sites_reached = Integer()
    promotions_shown = Integer()
    promotions_clicked = Integer()
    scans = Integer()
    by_site = List(Nested(ReportRowOut))
    by_screen = List(Nested(ReportRowOut))
    by_day = List(Nested(ReportRowOut))
    by_item = List(Nested(ReportRowOut))
    other_content = List(Nested(OtherContentOut))


class ReportScheduleIn(Schema):
    recipients = List(
        String(validate=[Length(max=254), Pattern(ADDRESS_PATTERN, error="Use name@city.gov.")]),
        required=True,
        validate=Length(min=1, max=MAX_RECIPIENTS),
    )
    frequency = Choice(list(FREQUENCIES), required=True)


class ReportScheduleOut(Schema):
    id = Integer()
    campaign_id = String()
    frequency = String()
    recipients = List(String())
    created_by = String()
    last_period = String()
    last_sent_at = DateTime(allow_none=True)
