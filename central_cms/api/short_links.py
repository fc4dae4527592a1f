"""/campaigns/{id}/short-links: the codes a campaign's promotions carry on each screen
(its QR codes) and how often each was scanned (read-only, as on Analytics: anyone may
read, a site editor only the screens of their sites)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from central_cms import campaigns as campaign_service
from central_cms import db, link_tracking, links
from central_cms import models as m
from central_cms.api.blueprint import actor, api, operation
from central_cms.api.schemas_parity import ScanRangeQuery, ShortLinksOut
from central_cms.runtime import runtime

# No scan is older than the CMS or centuries ahead; clamping keeps any date the document
# allows (0001-01-01 .. 9999-12-31) inside what datetimes and the database hold.
EARLIEST, LATEST = date(2000, 1, 1), date(2999, 12, 31)


@operation("GET", "/campaigns/<campaign_id>/short-links", errors=(404,))
@api.input(ScanRangeQuery, location="query", arg_name="query")
@api.output(ShortLinksOut)
def campaign_short_links(campaign_id: str, query: dict[str, Any]) -> Any:
    """Every code of the campaign with its scans over the local days `start`..`end`
    (the owner site's time zone; every scan when left out; swapped if end is first)."""
    session = db.session()
    campaign = campaign_service.get(session, campaign_id)
    site = session.get(m.Site, campaign.owner_site_id)
    zone = ZoneInfo(site.timezone if site is not None else "UTC")
    start = min(max(query["start"], EARLIEST), LATEST) if query["start"] else None
    end = min(max(query["end"], EARLIEST), LATEST) if query["end"] else None
    if start is not None and end is not None and end < start:
        start, end = end, start
    since = datetime.combine(start, time(), zone) if start is not None else None
    until = datetime.combine(end + timedelta(days=1), time(), zone) if end is not None else None
    who = actor()
    found = link_tracking.campaign_codes(
        session,
        campaign.id,
        since=since,
        until=until,
        site_ids=None if who.all_sites else who.sites,
    )
    linker = links.linker_for(runtime().config)
    return {
        "campaign_id": campaign.id,
        "scans": sum(row.scans for row in found),
        "links": [
            {
                "code": row.link.code,
                "url": linker.url(row.link.code),
                "device_id": row.link.device_id,
                "site_id": row.link.site_id,
                "destination": row.link.destination,
                "issued_at": row.link.issued_at.isoformat(),
                "scans": row.scans,
            }
            for row in found
        ],
    }
