"""Every blueprint of the CMS is registered here, in one place, with its nav entries.

To add pages (issue 7: analytics, device health): write a blueprint module, then add it
to `register_blueprints` with `add_nav(app, NavEntry(...))`.
"""

from __future__ import annotations

from flask import Flask, render_template

from central_cms import db
from central_cms.errors import Forbidden, NotFound
from central_cms.nav import NavEntry, add_nav
from central_cms.policy import Permission
from central_cms.views.common import page_url


def register_blueprints(app: Flask) -> None:
    from central_cms.api import api
    from central_cms.views import (
        alerts,
        audit_log,
        auth_views,
        campaigns,
        device_api,
        devices,
        feeds,
        groups,
        home,
        links,
        media,
        newsletter,
        playlists,
        screens,
        sites,
        software,
        sso_views,
        timefmt,
        users,
        week_calendar,
    )

    for blueprint in (
        auth_views.bp,
        sso_views.bp,
        home.bp,
        sites.bp,
        devices.bp,
        groups.bp,
        media.bp,
        campaigns.bp,
        playlists.bp,
        alerts.bp,
        feeds.bp,
        audit_log.bp,
        users.bp,
        newsletter.bp,
        device_api.bp,
        week_calendar.bp,
        software.bp,
    ):
        app.register_blueprint(blueprint)
    app.register_blueprint(api)
    screens.register(app)  # the Screens page and its nav entry (issue 8)
    links.register(app)  # /l/<code>, the short links behind QR codes (issue 14)
    timefmt.register(app)  # `local_time`: every time in its site's zone (issue 13)
    app.add_template_global(page_url, "page_url")  # the pager's links (issue 17)

    @app.errorhandler(Forbidden)
    def _forbidden(error: Forbidden):  # type: ignore[no-untyped-def]
        db.session().rollback()
        return render_template("error.html", error=error, code=403), 403

    @app.errorhandler(NotFound)
    def _missing(error: NotFound):  # type: ignore[no-untyped-def]
        return render_template("error.html", error=error, code=404), 404

    add_nav(app, NavEntry("Home", "home.index", order=0))
    add_nav(app, NavEntry("Campaigns", "campaigns.index", order=10))
    add_nav(app, NavEntry("Approvals", "campaigns.approvals", Permission.CAMPAIGN_APPROVE, 15))
    add_nav(app, NavEntry("Playlists", "playlists.index", order=12))
    add_nav(app, NavEntry("Media", "media.index", order=20))
    add_nav(app, NavEntry("What plays when", "calendar.index", order=25))
    add_nav(app, NavEntry("Alerts", "alerts.index", order=30))
    add_nav(app, NavEntry("Live feeds", "feeds.index", order=35))
    add_nav(app, NavEntry("Sites", "sites.index", order=40))
    add_nav(app, NavEntry("Devices", "devices.index", order=50))
    add_nav(app, NavEntry("Device groups", "groups.index", order=55))
    add_nav(app, NavEntry("Software", "software.index", Permission.SOFTWARE_RELEASE, 58))
    # Visitors' email addresses: only the roles that may see personal data get the link.
    add_nav(app, NavEntry("Newsletter sign-ups", "newsletter.index", Permission.NEWSLETTER, 70))
    add_nav(app, NavEntry("Audit log", "audit_log.index", Permission.AUDIT_READ, 80))
    add_nav(app, NavEntry("Users", "users.index", Permission.USER_WRITE, 90))
