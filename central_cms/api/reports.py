"""/campaigns/{id}/report: the proof-of-play report as JSON, CSV and PDF, and the
report's e-mail schedules (issue 17), with the staff page's permissions: any token reads
reports (an editor limited to some sites, those sites' data only); e-mail schedules
take the campaign-writing permission."""

from __future__ import annotations

from collections.abc import Callable
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
from central_cms.api.blueprint import View, actor, api, operation, row_or_404
from central_cms.api.report_schemas import (
    CampaignReportOut,
    ReportQuery,
    ReportScheduleIn,
    ReportScheduleOut,
)
from central_cms.report_schedules import add_schedule, delete_schedule, schedules_of
from central_cms.runtime import parts, runtime


def _campaign(campaign_id: str) -> m.Campaign:
    return row_or_404(m.Campaign, campaign_id, f"no campaign {campaign_id}")


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


def _report_endpoint(rule: str) -> Callable[[View], View]:
    """GET `rule`, a form of the report, chosen by the same period query."""
    endpoint = operation("GET", rule, errors=(404, 422))
    query = api.input(ReportQuery, location="query", arg_name="query")
    return lambda view: endpoint(query(view))


def _report_file(ext: str, content_type: str, description: str) -> Callable[[View], View]:
    """The report as a file to download, `report.{ext}`."""
    endpoint = _report_endpoint(f"/campaigns/<campaign_id>/report.{ext}")
    output = api.output(
        FileSchema(type="string", format="binary"),
        content_type=content_type,
        description=description,
    )
    return lambda view: endpoint(output(view))


def _download(result: CampaignReport, body: str | bytes, mimetype: str, ext: str) -> Response:
    name = f"proof-of-play-{result.campaign_id}-{result.start.isoformat()}-{result.end.isoformat()}"
    disposition = f'attachment; filename="{name}.{ext}"'
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": disposition})


@_report_endpoint("/campaigns/<campaign_id>/report")
@api.output(CampaignReportOut)
def campaign_report_json(campaign_id: str, query: dict[str, Any]) -> Any:
    return report_json(_report(campaign_id, query))


@_report_file("csv", "text/csv", "One row per local day and screen")
def campaign_report_csv(campaign_id: str, query: dict[str, Any]) -> Any:
    result = _report(campaign_id, query)
    return _download(result, report_csv(result), "text/csv", "csv")


@_report_file("pdf", "application/pdf", "The report with its charts")
def campaign_report_pdf(campaign_id: str, query: dict[str, Any]) -> Any:
    result = _report(campaign_id, query)
    pdf = render_pdf(pdf_html(result, alert_titles(db.session(), result)))
    return _download(result, pdf, "application/pdf", "pdf")


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
