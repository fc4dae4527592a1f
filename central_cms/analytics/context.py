"""What the analytics pages share for the life of the app: the stores, the in-process
ingest if the config asks for one, and the alert rules read from the fleet store."""

from __future__ import annotations

import os
from dataclasses import dataclass

from central_cms.analytics.health_rules import AlertRules
from central_cms.analytics.stores import Stores, open_stores
from central_cms.config import CmsConfig
from central_cms.ingest import Ingest, IngestSettings, start_ingest_thread
from devices.broker import client_id_for
from devices.clock import Clock
from devices.config import BrokerUrl, MqttSettings


@dataclass
class AnalyticsContext:
    stores: Stores
    ingest: Ingest | None = None  # the in-process ingest, if any

    @property
    def rules(self) -> AlertRules:
        """The thresholds IT saved (or the defaults), read afresh for each page."""
        return self.stores.fleet.alert_rules()

    def start_ingest(self, config: CmsConfig, clock: Clock) -> None:
        """Run the ingest on a thread of this process (`config.ingest_in_process`)."""
        if self.ingest is None:
            self.ingest = _start_ingest(config, self.stores, clock)

    def stop(self) -> None:
        """Stop the in-process ingest, if any (the stores stay open)."""
        if self.ingest is not None:
            self.ingest.stop()


def store_url(config: CmsConfig) -> str:
    """The configured analytics store, by default the SQLite file in the instance folder."""
    return config.analytics_store or f"sqlite:///{config.instance_path}/analytics.sqlite3"


def open_analytics(config: CmsConfig, stores: Stores | None = None) -> AnalyticsContext:
    """The stores: `stores`, or those `config.analytics_store` names."""
    if stores is None:
        os.makedirs(config.instance_path, exist_ok=True)
        stores = open_stores(store_url(config))
    return AnalyticsContext(stores=stores)


def _start_ingest(config: CmsConfig, stores: Stores, clock: Clock) -> Ingest:
    settings = IngestSettings(
        mqtt=MqttSettings(
            brokers=tuple(BrokerUrl.parse(u, "mqtt_brokers") for u in config.mqtt_brokers),
            username=config.mqtt_ingest_username or None,
            password=config.mqtt_password or None,
            connect_jitter_s=0,
        ),
        # Its own account: under the CMS's, the broker would give both the same client id.
        client_id=client_id_for(
            config.mqtt_ingest_username, config.mqtt_password, f"cms-ingest-{os.getpid()}"
        ),
    )
    return start_ingest_thread(stores, settings, clock)
