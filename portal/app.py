"""The captive-portal web app (Flask): splash, accept, promo tracker, probes, RFC 8908.

No cookies and no JavaScript: the visitor's state travels in signed form fields, so the
page works in the iOS/Android captive-portal mini-browsers. `create_app` builds the app
from what it is handed; there is no module-level state. What the pages show and what an
accept does is the `Splash` service's (portal/splash.py); Flask only carries requests to
it (portal/routes.py), and GET / skips even that (portal/fast_path.py).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Flask

from portal.fast_path import with_fast_path
from portal.routes import register_routes
from portal.splash import Splash


def create_app(splash: Splash) -> Flask:
    """The Flask app around `splash`, which holds the configuration and collaborators."""
    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = 16 * 1024
    register_routes(app, splash)
    app.wsgi_app = with_fast_path(splash, app.wsgi_app)  # type: ignore[method-assign,assignment]
    app.extensions["portal"] = {"cache": splash.cache, "splash": splash, "tz": ZoneInfo}
    return app
