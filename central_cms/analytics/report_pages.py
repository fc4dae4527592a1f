"""The campaign proof-of-play report for staff (issue 17): the page, its CSV and PDF, and
the e-mail schedules set up from it. `analytics.web.register` registers the blueprint.

Anyone signed in reads reports; an editor limited to some sites sees those sites' data
only. Setting up an e-mail takes the campaign-writing permission.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from central_cms import db
from central_cms import models as m
from central_cms.analytics.campaign_report_data import (
    Period,
    alert_titles,
    campaign_report,
    campaign_zone,
    choose_period,
    month_choices,
    plan_of,
)
from central_cms.analytics.proof_of_play import CampaignReport
from central_cms.analytics.report_exports import render_pdf, report_charts, report_csv
from central_cms.auth import current_actor, login_required
from central_cms.errors import Invalid, NotFound
from central_cms.policy import Actor, Forbidden
from central_cms.report_schedules import add_schedule, delete_schedule, schedules_of
from central_cms.runtime import parts, runtime

bp = Blueprint("reports", __name__, url_prefix="/analytics/campaigns")


def reader_sites(actor: Actor | None, chosen: str | None = None) -> frozenset[str] | None:
    """The sites whose data `actor` may read (None: every site), narrowed to `chosen` if
    they may read it."""
    allowed = None if actor is None or actor.all_sites else frozenset(actor.sites)
    if chosen and (allowed is None or chosen in allowed):
        return frozenset({chosen})
    return allowed


def _campaign(campaign_id: str) -> m.Campaign:
    campaign = db.session().get(m.Campaign, campaign_id)
    if campaign is None:
        abort(404)
    return campaign


def _report(campaign: m.Campaign) -> tuple[CampaignReport, Period]:
    session = db.session()
    now = runtime().clock.now()
    today = now.astimezone(campaign_zone(session, campaign)).date()
    period = choose_period(request.args, campaign, today)
    store = parts().analytics.stores.events
    sites = reader_sites(current_actor(), request.args.get("site"))
    return campaign_report(session, store, campaign, period, now, sites), period


def _query(period: Period) -> dict[str, str]:
    query = {"start": period.start.isoformat(), "end": period.end.isoformat()}
    if request.args.get("site"):
        query["site"] = request.args["site"]
    return query


def _download(campaign: m.Campaign, period: Period, ext: str) -> dict[str, str]:
    name = f"proof-of-play-{campaign.id}-{period.start.isoformat()}-{period.end.isoformat()}"
    return {"Content-Disposition": f'attachment; filename="{name}.{ext}"'}


@bp.get("/<campaign_id>/report")
@login_required
def campaign(campaign_id: str) -> str:
    found = _campaign(campaign_id)
    result, period = _report(found)
    for problem in period.problems:
        flash(problem, "warning")
    session = db.session()
    today = runtime().clock.now().astimezone(campaign_zone(session, found)).date()
    return render_template(
        "analytics/campaign_report.html",
        campaign=found,
        report=result,
        period=period,
        months=month_choices(found, today),
        charts=report_charts(result),
        alert_titles=alert_titles(session, result),
        query=_query(period),
        zone=campaign_zone(session, found).key,
        limited=reader_sites(current_actor()) is not None,
        site_choices=sorted(
            {
                (s.site, s.site_id)
                for s in plan_of(session, found, reader_sites(current_actor())).screens
            }
        ),
        chosen_site=request.args.get("site", ""),
        schedules=schedules_of(session, found.id),
    )


@bp.get("/<campaign_id>/report.csv")
@login_required
def campaign_csv(campaign_id: str) -> Response:
    found = _campaign(campaign_id)
    result, period = _report(found)
    return Response(
        report_csv(result),
        mimetype="text/csv",
        headers=_download(found, period, "csv"),
    )


def pdf_html(result: CampaignReport, titles: dict[str, str]) -> str:
    return render_template(
        "analytics/campaign_report_pdf.html",
        report=result,
        charts=report_charts(result),
        alert_titles=titles,
    )


@bp.get("/<campaign_id>/report.pdf")
@login_required
def campaign_pdf(campaign_id: str) -> Response:
    found = _campaign(campaign_id)
    result, period = _report(found)
    pdf = render_pdf(pdf_html(result, alert_titles(db.session(), result)))
    return Response(
        pdf,
        mimetype="application/pdf",
        headers=_download(found, period, "pdf"),
    )


@bp.post("/<campaign_id>/report/schedules", endpoint="add_schedule")
@login_required
def add_schedule_view(campaign_id: str) -> BaseResponse:
    found = _campaign(campaign_id)
    actor = current_actor()
    assert actor is not None  # login_required
    try:
        add_schedule(
            db.session(),
            actor,
            found,
            request.form.get("recipients", ""),
            request.form.get("frequency", ""),
            runtime().clock.now(),
        )
    except Invalid as error:
        flash(error.message, "error")
    except Forbidden as error:
        abort(403, error.reason)
    else:
        flash("Saved: the report goes out once each period is over.", "ok")
    return redirect(url_for("reports.campaign", campaign_id=found.id) + "#schedules")


@bp.post("/<campaign_id>/report/schedules/<int:schedule_id>/delete", endpoint="delete_schedule")
@login_required
def delete_schedule_view(campaign_id: str, schedule_id: int) -> BaseResponse:
    found = _campaign(campaign_id)
    actor = current_actor()
    assert actor is not None
    try:
        delete_schedule(db.session(), actor, found.id, schedule_id, runtime().clock.now())
    except Forbidden as error:
        abort(403, error.reason)
    except NotFound:
        abort(404)
    flash("Stopped: no more e-mails of this report to those addresses.", "ok")
    return redirect(url_for("reports.campaign", campaign_id=found.id) + "#schedules")
