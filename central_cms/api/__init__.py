"""The REST API under /api/v1 (APIFlask: marshmallow schemas, OpenAPI at
/api/v1/openapi.json). Bearer tokens; the same service functions, and so the same
permissions, as the staff UI.

| module | holds |
| --- | --- |
| blueprint.py | the blueprint, bearer-token auth, error handler wiring, `operation` |
| error_answers.py | `ErrorOut`, the documented error answers and their handlers |
| spec.py | the document's refinements (rules across fields) and response links |
| fields.py | strict field types: what they accept is what the document says |
| schemas.py | the request and response bodies, but for ... |
| schemas_parity.py | ... those of feeds, short links and releases |
| sites, profiles, devices, media, campaigns, alerts, | one resource each |
| groups, fleet, users, playlists (issue 17) | one resource each |
| reports.py, report_schemas.py | campaign proof-of-play reports and their e-mail schedules |
| feeds, short_links, releases (issue 17) | live feeds, "fetch now"; a campaign's codes, scans; |
| | software releases, channels and the groups following them |
"""

from __future__ import annotations

# Imported for their routes: each module adds its endpoints to `api`.
from central_cms.api import (
    alerts,
    campaigns,
    devices,
    feeds,
    fleet,
    groups,
    media,
    playlists,
    profiles,
    releases,
    reports,
    short_links,
    sites,
    users,
)
from central_cms.api.blueprint import api

__all__ = [
    "alerts",
    "api",
    "campaigns",
    "devices",
    "feeds",
    "fleet",
    "groups",
    "media",
    "playlists",
    "profiles",
    "releases",
    "reports",
    "short_links",
    "sites",
    "users",
]
