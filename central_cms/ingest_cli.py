"""`digital-spaces ingest`: store device events, health and status; prune on schedule.

    digital-spaces ingest --store sqlite:///var/lib/digital-spaces/analytics.sqlite3 \\
        --broker mqtt://127.0.0.1:1883 --username ingest-1 --password-file F

Run several, each with its own account (ingest-1, ingest-2, ...: the broker makes the
username the client id) and the same --group to split the load through
an MQTT shared subscription. SIGTERM or SIGINT stops it cleanly.

Every --check-health-every-s it evaluates the device-health alert rules and tells
--webhook-url what changed. Their thresholds (offline after N minutes, temperature,
disk, memory, manifest grace) live in the store: IT sets them in the CMS under
Device health > Alert rules, and each check reads them afresh, so a change applies
within a minute without a restart. Until IT saves some, the defaults apply.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from types import FrameType

from central_cms.analytics.notify import HealthMonitor, Notifier, NullNotifier, WebhookNotifier
from central_cms.analytics.stores import StoreUrlError, open_stores
from central_cms.ingest import IngestSettings, start_ingest_thread
from devices.broker import client_id_for
from devices.clock import SystemClock
from devices.config import BrokerUrl, ConfigError, MqttSettings

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="digital-spaces ingest", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--store", required=True, help="sqlite:///path or influxdb://...")
    parser.add_argument("--broker", action="append", default=[], help="mqtt[s]://host:port")
    parser.add_argument("--username", default=os.environ.get("DS_INGEST_USERNAME"))
    parser.add_argument(
        "--password-file", type=Path, help="file holding the broker password (not argv)"
    )
    parser.add_argument("--ca-file", type=Path)
    parser.add_argument(
        "--client-id",
        help="default: the --username (the broker ties client ids to accounts: run each "
        "ingest under its own, ingest-1, ingest-2, ...), else ingest-<host>",
    )
    parser.add_argument("--group", default="ingest", help="shared-subscription group")
    parser.add_argument(
        "--no-share", action="store_true", help="plain subscriptions (one ingest only)"
    )
    parser.add_argument("--retention-days", type=int, default=396, help="raw events (13 months)")
    parser.add_argument("--health-retention-days", type=int, default=30)
    parser.add_argument("--prune-every-s", type=float, default=3600.0)
    parser.add_argument("--check-health-every-s", type=float, default=60.0)
    # Removed: the threshold is set in the CMS, so the dashboard and the notifier agree.
    parser.add_argument("--offline-after-min", help=argparse.SUPPRESS)
    parser.add_argument("--webhook-url", help="POST device-health changes here (JSON)")
    parser.add_argument("--webhook-secret-file", type=Path, help="HMAC-SHA256 key for it")
    return parser


def main(argv: Sequence[str]) -> int:
    options = build_parser().parse_args(argv)
    if options.offline_after_min is not None:
        print(
            "digital-spaces ingest: --offline-after-min is no longer read; set 'Offline after' "
            "in the CMS under Device health > Alert rules (it applies to every ingest).",
            file=sys.stderr,
        )
        return 2
    try:
        brokers = tuple(
            BrokerUrl.parse(url, "--broker")
            for url in (options.broker or ["mqtt://127.0.0.1:1883"])
        )
        stores = open_stores(options.store)
    except (ConfigError, StoreUrlError) as error:
        print(f"digital-spaces ingest: {error}", file=sys.stderr)
        return 2
    password = (
        options.password_file.read_text(encoding="utf-8").strip() if options.password_file else None
    )
    options.client_id = options.client_id or client_id_for(
        options.username, password, f"ingest-{os.uname().nodename}"
    )
    settings = IngestSettings(
        mqtt=MqttSettings(
            brokers=brokers,
            username=options.username,
            password=password,
            ca_file=options.ca_file,
            connect_jitter_s=0,
        ),
        client_id=options.client_id,
        shared_group=None if options.no_share else options.group,
    )
    clock = SystemClock()
    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    notifier: Notifier = NullNotifier()
    if options.webhook_url:
        secret = (
            options.webhook_secret_file.read_text(encoding="utf-8").strip()
            if options.webhook_secret_file
            else None
        )
        notifier = WebhookNotifier(options.webhook_url, secret=secret)
    monitor = HealthMonitor(
        stores.fleet, notifier, clock, options.check_health_every_s, owner=options.client_id
    )
    ingest = start_ingest_thread(stores, settings, clock)
    next_prune = clock.now()
    try:
        while not stopping.wait(options.check_health_every_s):
            now = clock.now()
            try:
                monitor.tick()
                if now >= next_prune:
                    next_prune = now + timedelta(seconds=options.prune_every_s)
                    if stores.sqlite is not None:
                        stores.sqlite.prune(now - timedelta(days=options.retention_days))
                    stores.fleet.prune_health(now - timedelta(days=options.health_retention_days))
                    if stores.feedback is not None:
                        stores.feedback.prune_feedback(now - timedelta(days=options.retention_days))
            except Exception:
                log.exception("health check or pruning failed; will try again")
    finally:
        ingest.stop()
        # One machine-readable line, for operators and the tests that split load.
        print(f"ingest_summary client_id={options.client_id} {ingest.stats.summary()}", flush=True)
        stores.close()
    return 0
