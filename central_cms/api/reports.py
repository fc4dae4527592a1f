"""/campaigns/{id}/report: the proof-of-play report as JSON, CSV and PDF, and the
report's e-mail schedules (issue 17), with the staff page's permissions: any token reads
reports (an editor limited to some sites, those sites' data only); e-mail schedules
take the campaign-writing permission."""

from __future__ import annotations

from typing import Any

from apiflask.schemas import FileSchema
from flask import Response

from central_cms import db
from central_cms import models as m
from central_cms.analytics.campaign_report_data import (
    alert_titles,
    campaign_report,
    campaign_zone,
    choose_period,
)
from central_cms.analytics.proof_of_play import CampaignReport
from central_cms.analytics.report_exports import render_pdf, report_csv, report_json
from central_cms.analytics.report_pages import pdf_html, reader_sites
from central_cms.api.blueprint import actor, api, operation
from central_cms.api.report_schemas import (
    CampaignReportOut,
    ReportQuery,
    ReportScheduleIn,
    ReportScheduleOut,
)
from central_cms.errors import NotFound
from central_cms.report_schedules import add_schedule, delete_schedule, schedules_of
from central_cms.runtime import parts, runtime

_FILE = FileSchema(type="string", format="binary")


def _campaign(campaign_id: str) -> m.Campaign:
    campaign = db.session().get(m.Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"no campaign {campaign_id}")
    return campaign


def _report(campaign_id: str, query: dict[str, Any]) -> CampaignReport:
    campaign = _campaign(campaign_id)
    session = db.session()
    now = runtime().clock.now()
    today = now.astimezone(campaign_zone(session, campaign)).date()
    args = {key: str(value) for key, value in query.items() if value is not None}
    period = choose_period(args, campaign, today)
    store = parts().analytics.stores.events
    sites = reader_sites(actor(), args.get("site"))
    return campaign_report(session, store, campaign, period, now, sites)


def _download(result: CampaignReport, ext: str) -> dict[str, str]:
    name = f"proof-of-play-{result.campaign_id}-{result.start.isoformat()}-{result.end.isoformat()}"
    return {"Content-Disposition": f'attachment; filename="{name}.{ext}"'}


@operation("GET", "/campaigns/<campaign_id>/report", errors=(404, 422))
@api.input(ReportQuery, location="query", arg_name="query")
@api.output(CampaignReportOut)
def campaign_report_json(campaign_id: str, query: dict[str, Any]) -> Any:
    return report_json(_report(campaign_id, query))


@operation("GET", "/campaigns/<campaign_id>/report.csv", errors=(404, 422))
@api.input(ReportQuery, location="query", arg_name="query")
@api.output(
    FileSchema(type="string", format="binary"),
    content_type="text/csv",
    description="One row per local day and screen",
)
def campaign_report_csv(campaign_id: str, query: dict[str, Any]) -> Any:
    result = _report(campaign_id, query)
    return Response(report_csv(result), mimetype="text/csv", headers=_download(result, "csv"))


@operation("GET", "/campaigns/<campaign_id>/report.pdf", errors=(404, 422))
@api.input(ReportQuery, location="query", arg_name="query")
@api.output(
    FileSchema(type="string", format="binary"),
    content_type="application/pdf",
    description="The report with its charts",
)
def campaign_report_pdf(campaign_id: str, query: dict[str, Any]) -> Any:
    result = _report(campaign_id, query)
    pdf = render_pdf(pdf_html(result, alert_titles(db.session(), result)))
    return Response(pdf, mimetype="application/pdf", headers=_download(result, "pdf"))


@operation("GET", "/campaigns/<campaign_id>/report-schedules", errors=(404,))
@api.output(ReportScheduleOut(many=True))
def list_report_schedules(campaign_id: str) -> Any:
    return schedules_of(db.session(), _campaign(campaign_id).id)


@operation("POST", "/campaigns/<campaign_id>/report-schedules", errors=(400, 404, 422))
@api.input(ReportScheduleIn, arg_name="data")
@api.output(ReportScheduleOut, status_code=201)
def add_report_schedule(campaign_id: str, data: dict[str, Any]) -> Any:
    campaign = _campaign(campaign_id)
    return add_schedule(
        db.session(),
        actor(),
        campaign,
        data["recipients"],
        data["frequency"],
        runtime().clock.now(),
    )


@operation("DELETE", "/campaigns/<campaign_id>/report-schedules/<int:schedule_id>", errors=(404,))
@api.output({}, status_code=204)
def delete_report_schedule(campaign_id: str, schedule_id: int) -> Any:
    delete_schedule(db.session(), actor(), campaign_id, schedule_id, runtime().clock.now())
    return ""
