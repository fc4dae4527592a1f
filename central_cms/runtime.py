"""What the CMS's views and services share for the life of the app (no globals).

`CmsRuntime` is the core every service takes; `CmsParts` is the app's one slot, holding
it with the database and the parts that run beside the requests (the renewer, the
analytics stores and in-process ingest). `parts()` and `runtime()` are the typed
accessors (`central_cms.db.database()` and `session()` read the same slot).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from apiflask import APIFlask
from flask import Flask, current_app
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from central_cms.analytics.context import AnalyticsContext
from central_cms.blobs import BlobStore
from central_cms.config import CmsConfig
from central_cms.publisher import ManifestPublisher
from devices.clock import Clock
from devices.protocol import SigningKey


@dataclass(frozen=True)
class CmsRuntime:
    config: CmsConfig
    clock: Clock
    signing_key: SigningKey
    publisher: ManifestPublisher
    blobs: BlobStore


@dataclass(frozen=True)
class Database:
    engine: Engine
    sessions: sessionmaker[Session]


class Service(Protocol):
    """A part with a thread of its own (the manifest renewer)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class CmsParts:
    runtime: CmsRuntime
    database: Database
    renewer: Service
    analytics: AnalyticsContext
    feeds: Service  # the live-feed refresher (central_cms/feeds/refresh.py)
    rollouts: Service  # the software rollout watcher (central_cms/releases.py)
    # Scheduled report e-mails (central_cms/report_mail.py), when SMTP is configured.
    mailer: Service | None = None

    def stop(self) -> None:
        """Stop what runs beside the requests: renewer, feeds, rollouts, mailer, in-process
        ingest and publisher."""
        self.renewer.stop()
        self.feeds.stop()
        self.rollouts.stop()
        if self.mailer is not None:
            self.mailer.stop()
        self.analytics.stop()
        self.runtime.publisher.stop()

    def close(self) -> None:
        """`stop()`, then close the analytics stores and the database's connections: for
        a process (or a test) that is done with this app, so none of its files stay open."""
        self.stop()
        self.analytics.stores.close()
        self.database.engine.dispose()


class CmsApp(APIFlask):
    """The CMS's Flask app; `create_app` fills its one slot, `parts`."""

    parts: CmsParts


def parts(app: Flask | None = None) -> CmsParts:
    found = app or current_app
    if not isinstance(found, CmsApp):  # current_app is a proxy: isinstance sees through it
        raise TypeError(f"{found!r} is not a CMS app: make it with central_cms.app.create_app")
    return found.parts


def runtime(app: Flask | None = None) -> CmsRuntime:
    return parts(app).runtime
