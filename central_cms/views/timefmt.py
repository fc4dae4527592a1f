"""The templates' one way to show a time (issue 13 point 20): `{{ at|local_time(zone) }}`.

`zone` is an IANA name, usually `site_zone(site_id)`: the site's zone, or for what belongs
to no one site (the audit log, an alert to every site) the zone all sites share, else UTC.
The zone is always named in the text, so a time is never ambiguous.
"""

from __future__ import annotations

from datetime import datetime

from flask import Flask, g
from sqlalchemy import select

from central_cms import db
from central_cms import models as m
from central_cms.times import DATE_HINT, Style, date_field, home_zone, local_time, zone_of


def _site_zones() -> dict[str, str]:
    found: dict[str, str] | None = g.get("ds_site_zones")
    if found is None:
        found = dict(db.session().execute(select(m.Site.id, m.Site.timezone)).tuples().all())
        g.ds_site_zones = found
    return found


def site_zone(site_id: str | None = None) -> str | None:
    """The zone of `site_id`; for none (or "all"), the zone every site shares, if any."""
    zones = _site_zones()
    if site_id and site_id in zones:
        return zones[site_id]
    return home_zone(zones.values())


def local_time_filter(at: datetime | None, zone: str | None = None, style: str = "datetime") -> str:
    return local_time(at, zone_of(zone or site_zone()), Style(style))


def register(app: Flask) -> None:
    app.add_template_filter(local_time_filter, "local_time")
    app.add_template_filter(date_field, "date_field")
    app.add_template_global(site_zone, "site_zone")
    app.jinja_env.globals["date_hint"] = DATE_HINT
