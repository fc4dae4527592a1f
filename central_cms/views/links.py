"""`/l/<code>`: where a QR code on a screen leads (issue 14). Public, no sign-in.

Each visit is counted for the code's campaign, site and screen (central_cms/link_tracking),
then answered with a 302 to the destination, which must still be on the city's list now:
an unknown, archived or no-longer-allowed code gets a friendly page, never a redirect to
anything else. Visits are limited per address per minute in this process's memory, so
nobody can walk the codes or inflate the counts quickly; no address is stored.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque

from flask import Blueprint, Flask, current_app, redirect, render_template, request
from werkzeug.wrappers import Response

from central_cms import db, link_tracking, links
from central_cms.runtime import runtime

bp = Blueprint("links", __name__)

_LIMITER = "ds_link_limiter"


class ScanLimiter:
    """At most `per_minute` visits per address in any 60 s (a sliding window)."""

    def __init__(self, per_minute: int, max_addresses: int = 10_000) -> None:
        self.per_minute = per_minute
        self._max = max_addresses
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()  # a threaded server answers scans side by side

    def allow(self, address: str, now_s: float) -> bool:
        with self._lock:
            times = self._seen.pop(address, None) or deque()
            while times and times[0] <= now_s - 60:
                times.popleft()
            allowed = len(times) < self.per_minute
            if allowed:
                times.append(now_s)
            self._seen[address] = times  # most recent last, so the oldest go first
            while len(self._seen) > self._max:
                self._seen.popitem(last=False)
            return allowed


def register(app: Flask) -> None:
    app.extensions[_LIMITER] = ScanLimiter(runtime(app).config.link_scans_per_minute)
    app.register_blueprint(bp)


def _gone(status: int, heading: str, message: str) -> tuple[str, int, dict[str, str]]:
    page = render_template("link_gone.html", heading=heading, message=message)
    return page, status, {"Cache-Control": "no-store"}


@bp.get("/l/<code>")
def follow(code: str) -> Response | tuple[str, int, dict[str, str]]:
    rt = runtime()
    now = rt.clock.now()
    limiter: ScanLimiter = current_app.extensions[_LIMITER]
    if not limiter.allow(request.remote_addr or "?", now.timestamp()):
        return _gone(
            429, "Please wait a moment", "Too many visits from here; try again in a minute."
        )
    session = db.session()
    found = link_tracking.resolve(session, code, links.policy_for(rt.config))
    if found is None:
        return _gone(
            404,
            "This promotion has ended",
            "The code you scanned is no longer in use. The venue's staff can tell you "
            "what is on now.",
        )
    link_tracking.count_scan(session, found.link, now)
    session.commit()
    response = redirect(found.url, code=302)
    response.headers["Cache-Control"] = "no-store"  # every scan comes back to be counted
    response.headers["Referrer-Policy"] = "no-referrer"  # the code stays ours
    return response
