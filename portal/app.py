"""The captive-portal web app (Flask): splash, accept, promo tracker, probes, RFC 8908.

No cookies and no JavaScript: the visitor's state travels in signed form fields, so the
page works in the iOS/Android captive-portal mini-browsers. `create_app` builds the app
from what it is handed; there is no module-level state. What the pages show and what an
accept does is the `Splash` service's (portal/splash.py); Flask only carries requests to
it (portal/routes.py), and GET / skips even that (portal/fast_path.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from zoneinfo import ZoneInfo

from flask import Flask

from devices.app import AssetStore
from devices.clock import Clock
from portal.config import PortalConfig
from portal.fast_path import with_fast_path
from portal.gateway import Gateway
from portal.nonces import NonceStore
from portal.routes import register_routes
from portal.sources import ManifestSource, NewsletterSink, Recorder
from portal.splash import Splash


def create_app(
    config: PortalConfig,
    *,
    gateway: Gateway,
    manifest_source: ManifestSource,
    recorder: Recorder,
    clock: Clock,
    assets: AssetStore | None = None,
    nonces: NonceStore | None = None,
    newsletter: NewsletterSink | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    fallback_name: str = "Free Wi-Fi",
) -> Flask:
    splash = Splash(
        config,
        gateway=gateway,
        manifest_source=manifest_source,
        recorder=recorder,
        clock=clock,
        assets=assets,
        nonces=nonces,
        newsletter=newsletter,
        monotonic=monotonic,
        fallback_name=fallback_name,
    )
    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = 16 * 1024
    register_routes(app, splash)
    app.wsgi_app = with_fast_path(splash, app.wsgi_app)  # type: ignore[method-assign,assignment]
    app.extensions["portal"] = {"cache": splash.cache, "splash": splash, "tz": ZoneInfo}
    return app
