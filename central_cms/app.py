"""The CMS application factory."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta
from typing import Any

from flask import Flask, g, render_template, request
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from central_cms import db
from central_cms.analytics.context import open_analytics
from central_cms.analytics.stores import Stores
from central_cms.analytics.web import register as register_analytics
from central_cms.api.error_answers import ErrorOut
from central_cms.auth import current_actor, load_session_actor
from central_cms.blobs import BlobStore
from central_cms.config import CmsConfig, load_config
from central_cms.csrf import init_csrf
from central_cms.feeds.refresh import FeedRefresher, Fetcher, fetch_source, use_fetcher
from central_cms.keys import load_or_create_signing_key
from central_cms.nav import nav_entries
from central_cms.publisher import ManifestPublisher, MqttPublisher
from central_cms.releases import RolloutWatcher
from central_cms.renewal import ManifestRenewer
from central_cms.runtime import CmsApp, CmsParts, CmsRuntime, parts
from central_cms.sso import init_sso
from devices.broker import client_id_for
from devices.clock import Clock, SystemClock

log = logging.getLogger(__name__)


def create_app(
    config: CmsConfig | None = None,
    *,
    publisher: ManifestPublisher | None = None,
    clock: Clock | None = None,
    migrate: bool = True,
    analytics: Stores | None = None,
    renewal: bool | None = None,
    feed_fetcher: Fetcher = fetch_source,
) -> Flask:
    """`analytics`: the analytics stores; by default those `config.analytics_store` names
    (the SQLite file in the instance folder). `renewal`: start the manifest renewer's
    thread and the feed refresher's; by default when the app publishes to the real broker
    (so each gunicorn worker ticks them). `feed_fetcher`: how feeds' sources are fetched."""
    config = config or load_config()
    app = CmsApp(
        __name__,
        title="Digital Spaces CMS API",
        version="1",
        spec_path="/api/v1/openapi.json",
        docs_path="/api/v1/docs",
        json_errors=False,
        instance_path=str(config.instance_path),
    )
    app.config.update(
        SECRET_KEY=config.secret_key,
        MAX_CONTENT_LENGTH=config.max_upload_mb * 1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.secure_cookies,
        SESSION_COOKIE_NAME="ds_cms_session",
        SYNC_OPENAPI_SPEC=False,
        SECURITY_SCHEMES={"BearerAuth": {"type": "http", "scheme": "bearer"}},
        # The one JSON shape of the API's errors (central_cms/api/error_answers.py), documented.
        HTTP_ERROR_SCHEMA=ErrorOut,
        VALIDATION_ERROR_SCHEMA=ErrorOut,
        DOCS_FAVICON=None,
    )
    if config.trusted_proxies:
        # Only the hops we run append to X-Forwarded-For: believe that many, no more.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=config.trusted_proxies, x_proto=config.trusted_proxies
        )
    database = db.init_app(app, config.database_url)
    if migrate:
        db.migrate(database.engine)
    clock = clock or SystemClock()
    signing_key = load_or_create_signing_key(config.signing_key_path)
    if renewal is None:
        renewal = publisher is None
    if publisher is None:
        publisher = MqttPublisher(
            config.mqtt_brokers,
            client_id=client_id_for(
                config.mqtt_username,
                config.mqtt_password,
                f"cms-{config.instance_path.name}-{id(app):x}"[:60],
            ),
            username=config.mqtt_username,
            password=config.mqtt_password,
            on_connect=lambda: republish(app),
        )
    rt = CmsRuntime(
        config=config,
        clock=clock,
        signing_key=signing_key,
        publisher=publisher,
        blobs=BlobStore(config.media_path / "blobs"),
    )
    renewer = ManifestRenewer(
        database.sessions, rt, timedelta(minutes=config.manifest_renewal_minutes)
    )
    analytics_context = open_analytics(config, analytics)
    app.parts = CmsParts(
        runtime=rt,
        database=database,
        renewer=renewer,
        analytics=analytics_context,
        feeds=FeedRefresher(database.sessions, rt, feed_fetcher),
        rollouts=RolloutWatcher(database.sessions, rt, analytics_context.stores.fleet),
    )
    use_fetcher(app, feed_fetcher)
    if config.smtp_url:
        from central_cms.report_mail import ReportMailer, SmtpSettings

        mailer = ReportMailer(app, SmtpSettings.parse(config.smtp_url), config.mail_from)
        app.parts = replace(app.parts, mailer=mailer)
    if renewal:
        renewer.start()
        app.parts.feeds.start()
        app.parts.rollouts.start()
        if app.parts.mailer is not None:
            app.parts.mailer.start()
    init_csrf(app)
    init_sso(app, config.sso)
    app.before_request(load_session_actor)

    @app.context_processor
    def _layout() -> dict[str, Any]:
        actor = current_actor()
        entries = [e for e in nav_entries(app) if actor is not None and actor.can(e.permission)]
        return {"actor": actor, "nav": entries}

    @app.after_request
    def _headers(response):  # type: ignore[no-untyped-def]
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.blueprint not in {"api", "openapi"}:
            response.headers.setdefault(
                "Content-Security-Policy",
                "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
            )
        return response

    @app.errorhandler(HTTPException)
    def _error(error: HTTPException):  # type: ignore[no-untyped-def]
        if request.path.startswith(("/api/", "/device-api/")):
            # Keep the error's own headers (a 405's Allow) but answer JSON, not its HTML.
            headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
            body = {"message": error.description or error.name, "status": error.code}
            return body, error.code, headers
        return (
            render_template("error.html", error=error, actor=g.get("actor")),
            error.code or 500,
        )

    from central_cms.views import register_blueprints

    register_blueprints(app)
    register_analytics(app)
    return app


def manifest_renewer(app: Flask) -> ManifestRenewer:
    """The app's renewer (started by `create_app`, or by the caller with `renewal=False`)."""
    renewer = parts(app).renewer
    assert isinstance(renewer, ManifestRenewer)
    return renewer


def republish(app: Flask) -> None:
    """On (re)connect to the broker: every device's latest manifest and live alerts."""
    from central_cms.manifests import republish_all
    from central_cms.runtime import runtime

    with app.app_context():
        session: Session = db.database(app).sessions()
        try:
            count = republish_all(session, runtime(app))
            log.info("republished %d retained messages after connecting", count)
        except Exception:
            log.exception("republishing after a reconnect failed")
        finally:
            session.close()
