"""The start page: what needs attention."""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import func, select

from central_cms import db
from central_cms import models as m
from central_cms.auth import login_required
from central_cms.feeds.service import feeds_needing_attention
from central_cms.runtime import runtime

bp = Blueprint("home", __name__)


@bp.get("/")
@login_required
def index() -> str:
    s = db.session()
    counts = {
        status.value: s.scalar(
            select(func.count()).select_from(m.Campaign).where(m.Campaign.status == status)
        )
        for status in m.CampaignStatus
    }
    devices = s.scalar(select(func.count()).select_from(m.Device))
    sites = s.scalar(select(func.count()).select_from(m.Site))
    troubled = feeds_needing_attention(s, runtime().clock.now())
    return render_template(
        "home.html", counts=counts, devices=devices, sites=sites, troubled_feeds=troubled
    )
