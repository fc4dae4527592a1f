"""One phone of bench/portal_join.py, run inside its own network namespace with the
system's python3 (standard library only).

    join_client.py portal|opennds UPSTREAM_URL PROBE_URL

It opens the upstream page, is captured, loads the splash, prints "ready" and waits for a
line on stdin: the tap. Then it accepts (the portal's form, or openNDS's own two-step
click-through) and polls the upstream until it answers 200. Prints one JSON line:
{"online": bool, "join_s": seconds from the tap to the upstream answering, "busy": n}.
"""

from __future__ import annotations

import html
import http.client
import json
import re
import sys
import time
import urllib.parse

TIMEOUT_S = 30.0
USER_AGENT = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Mobile Safari/537.36"
_HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)"')


def request(url: str, body: dict[str, str] | None = None) -> tuple[int, str, str]:
    """(status, Location, body) without following redirects."""
    parts = urllib.parse.urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    host = parts.hostname or ""
    connection = http.client.HTTPConnection(host, parts.port or 80, timeout=TIMEOUT_S)
    try:
        # openNDS's own web server drops a request without a User-Agent unanswered.
        headers = {"User-Agent": USER_AGENT, "Accept": "*/*"}
        if body is None:
            connection.request("GET", path, headers=headers)
        else:
            data = urllib.parse.urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            connection.request("POST", path, data, headers)
        answer = connection.getresponse()
        return (
            answer.status,
            answer.getheader("Location") or "",
            answer.read().decode("utf-8", "replace"),
        )
    finally:
        connection.close()


def form_of(page: str) -> dict[str, str]:
    return {name: html.unescape(value) for name, value in _HIDDEN.findall(page)}


def until_online(probe: str, deadline: float) -> bool:
    """Poll an upstream port openNDS does not capture (it refuses it before the phone is
    online): polling port 80 would hammer openNDS's own web server with 50 phones' captured
    requests, which made openNDS 9.10 fall over in this bench."""
    while time.monotonic() < deadline:
        try:
            if request(probe)[0] == 200:
                return True
        except OSError:
            pass
        time.sleep(0.02)  # the gateway's rules are not ours to wait on: poll
    return False


def captured(upstream: str, deadline: float) -> tuple[str, str] | None:
    """The splash URL and page the phone is sent to (openNDS's own splash resets some
    connections when many arrive at once: try again until the deadline)."""
    while True:
        try:
            status, splash_url, _ = request(upstream)
            if status == 307:
                status, _, page = request(splash_url)
                if status == 200:
                    return splash_url, page
        except OSError:
            pass
        if time.monotonic() > deadline:
            return None
        time.sleep(0.1)


def main() -> None:
    mode, upstream, probe = sys.argv[1], sys.argv[2], sys.argv[3]
    splash = captured(upstream, time.monotonic() + TIMEOUT_S)
    print("ready", flush=True)
    sys.stdin.readline()  # the tap
    if splash is None:
        print(json.dumps({"online": False, "join_s": None, "busy": 0, "why": "no splash"}))
        return
    splash_url, page = splash
    tapped = time.monotonic()
    try:
        online, busy = tap(mode, probe, splash_url, page, tapped + TIMEOUT_S)
    except OSError as error:
        print(json.dumps({"online": False, "join_s": None, "busy": 0, "why": str(error)}))
        return
    print(json.dumps({"online": online, "join_s": time.monotonic() - tapped, "busy": busy}))


def tap(mode: str, probe: str, splash_url: str, page: str, deadline: float) -> tuple[bool, int]:
    """Accept, then wait for the upstream; (online, times asked to tap again). Why a
    phone stayed offline goes to stderr."""
    busy = 0
    if mode == "portal":
        accept_url = urllib.parse.urljoin(splash_url, "/accept")
        while True:
            status, _, page = request(accept_url, {**form_of(page), "accept": "yes"})
            if status == 503 and time.monotonic() < deadline:  # "tap again in a moment"
                busy += 1
                continue
            break
        if status != 303:
            print(f"accept answered {status}: {page[:200]!r}", file=sys.stderr)
        online = status == 303 and until_online(probe, deadline)
    else:
        fas = urllib.parse.parse_qs(urllib.parse.urlsplit(splash_url).query)["fas"][0]
        base = urllib.parse.urljoin(splash_url, "/opennds_preauth/")
        for step in ({"continue": "clicked"}, {"landing": "yes"}):
            request(base + "?" + urllib.parse.urlencode({"fas": fas, **step}))
        online = until_online(probe, deadline)
    return online, busy


if __name__ == "__main__":
    main()
