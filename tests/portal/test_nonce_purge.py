"""The used-form store stays bounded: a node that has served a month of visitors keeps
only the accept forms that could still be replayed (issue 13)."""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from datetime import timedelta

from portal.nonces import NONCE_PURGE_S, MemoryNonceStore, SqliteNonceStore
from testkit.portal import make_portal, portal_config

_FIELD = re.compile(r'name="(state|lang|terms_version)" value="([^"]+)"')


def accept_form(portal, visitor) -> dict[str, str]:
    html = portal.client.get(visitor.splash_url(), environ_base=visitor.environ).get_data(
        as_text=True
    )
    return {**dict(_FIELD.findall(html)), "accept": "yes"}


def used_forms(path) -> int:
    """Rows in the node's used-form table, as an operator would count them."""
    with closing(sqlite3.connect(path)) as db:
        return int(db.execute("SELECT count(*) FROM used_nonce").fetchone()[0])


def test_used_forms_are_forgotten_so_a_month_of_visitors_stays_bounded(tmp_path):
    path = tmp_path / "portal-nonces.sqlite3"
    store = SqliteNonceStore(path)
    config = portal_config(state_max_age_s=1800)
    portal = make_portal(tmp_path, config, nonces=store)
    every = timedelta(minutes=30)
    # Forms stay replayable for state_max_age_s; a purge may be up to NONCE_PURGE_S late.
    bound = (config.state_max_age_s + NONCE_PURGE_S) / every.total_seconds() + 1
    visitors = 30 * 24 * 2  # a visitor every 30 minutes for 30 days
    largest = 0
    for n in range(visitors):
        visitor = portal.visitor()
        done = portal.client.post(
            "/accept", data=accept_form(portal, visitor), environ_base=visitor.environ
        )
        assert done.status_code == 303
        if n % 2 == 0:  # hourly, as a monitoring check would
            largest = max(largest, used_forms(path))
        portal.clock.advance(every)
    assert len(portal.gateway.decisions) == visitors
    assert largest <= bound, f"{largest} used forms kept after a month (at most {bound})"


def test_the_in_memory_store_forgets_expired_forms_too():
    store = MemoryNonceStore()
    assert store.use_once("a", expires_at=100.0) and store.use_once("b", expires_at=200.0)
    assert store.purge(150.0) == 1
    assert not store.use_once("b", expires_at=300.0)  # still replayable: still refused
    assert store.use_once("a", expires_at=300.0)  # forgotten (its state had expired)


def test_a_form_replayed_after_the_purge_is_still_refused(tmp_path):
    path = tmp_path / "portal-nonces.sqlite3"
    portal = make_portal(tmp_path, nonces=SqliteNonceStore(path))
    visitor = portal.visitor()
    form = accept_form(portal, visitor)
    environ = visitor.environ
    assert portal.client.post("/accept", data=form, environ_base=environ).status_code == 303
    assert portal.client.post("/accept", data=form, environ_base=environ).status_code == 400
    # Long enough for the nonce to be purged by the next visitor's accept...
    portal.clock.advance(seconds=portal_config().state_max_age_s + NONCE_PURGE_S + 1)
    other = portal.visitor()
    portal.client.post("/accept", data=accept_form(portal, other), environ_base=other.environ)
    assert used_forms(path) == 1
    # ...by which time the form's signed state has expired, so it cannot be replayed.
    replay = portal.client.post("/accept", data=form, environ_base=environ)
    assert replay.status_code == 400
    assert len(portal.gateway.decisions) == 2
