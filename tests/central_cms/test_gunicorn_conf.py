"""gunicorn's hooks for the CMS (central_cms.gunicorn_conf)."""

from __future__ import annotations

import gc
from types import SimpleNamespace

from central_cms import gunicorn_conf


def test_each_worker_takes_the_lowest_free_slot_for_its_broker_account():
    server = SimpleNamespace(WORKERS={1: SimpleNamespace(ds_slot=1), 2: SimpleNamespace(ds_slot=3)})
    worker = SimpleNamespace()
    gunicorn_conf.pre_fork(server, worker)
    assert worker.ds_slot == 2


def test_a_loaded_worker_keeps_what_it_holds_out_of_the_collector_s_walks():
    gc.unfreeze()
    try:
        gunicorn_conf.post_worker_init(SimpleNamespace())
        assert gc.get_freeze_count() > 1000  # this test process's modules, at least
        assert gc.isenabled()  # later garbage is still collected
    finally:
        gc.unfreeze()
