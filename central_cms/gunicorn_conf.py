"""gunicorn settings for the CMS: each worker gets its own broker account.

    gunicorn --config python:central_cms.gunicorn_conf --workers 4 'central_cms.app:create_app()'

The broker makes each account's username its client id (issue 13, point 7), so workers
sharing one account would disconnect each other. Before forking, the arbiter gives each
new worker the lowest slot no live worker holds; the worker then logs in as `cms-<slot>`
(DS_CMS_MQTT_USERNAME wins over the TOML file). A replaced worker reuses its slot; during a
graceful reload old and new workers overlap, so `export-broker` should write twice as many
CMS accounts as workers (`mqtt_cms_accounts`).
"""

from __future__ import annotations

import itertools
import os
from typing import Any


def pre_fork(server: Any, worker: Any) -> None:
    held = {getattr(w, "ds_slot", None) for w in server.WORKERS.values()}
    worker.ds_slot = next(n for n in itertools.count(1) if n not in held)


def post_fork(server: Any, worker: Any) -> None:
    os.environ["DS_CMS_MQTT_USERNAME"] = f"cms-{worker.ds_slot}"
