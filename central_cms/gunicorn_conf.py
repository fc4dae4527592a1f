"""gunicorn settings for the CMS: each worker gets its own broker account.

    gunicorn --config python:central_cms.gunicorn_conf --workers 4 'central_cms.app:create_app()'

The broker makes each account's username its client id (issue 13, point 7), so workers
sharing one account would disconnect each other. Before forking, the arbiter gives each
new worker the lowest slot no live worker holds; the worker then logs in as `cms-<slot>`
(DS_CMS_MQTT_USERNAME wins over the TOML file). A replaced worker reuses its slot; during a
graceful reload old and new workers overlap, so `export-broker` should write twice as many
CMS accounts as workers (`mqtt_cms_accounts`).

Once a worker has loaded the app, what it holds for its life is frozen out of the garbage
collector's reach (`post_worker_init`).
"""

from __future__ import annotations

import gc
import itertools
import os
from typing import Any


def pre_fork(server: Any, worker: Any) -> None:
    held = {getattr(w, "ds_slot", None) for w in server.WORKERS.values()}
    worker.ds_slot = next(n for n in itertools.count(1) if n not in held)


def post_fork(server: Any, worker: Any) -> None:
    os.environ["DS_CMS_MQTT_USERNAME"] = f"cms-{worker.ds_slot}"


def post_worker_init(worker: Any) -> None:
    # The loaded app (modules, templates, SQLAlchemy's metadata) is ~200,000 objects that
    # live as long as the worker, and a page that builds large results triggers full
    # collections that walk them all: ~60 of the analytics page's ~150 ms CPU at 5,000
    # campaigns (issue 17). Frozen, a collection walks only what requests made.
    gc.collect()
    gc.freeze()
