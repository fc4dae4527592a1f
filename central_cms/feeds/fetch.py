"""Getting a feed's body over HTTP: conditional, size-limited and time-limited.

A source that is slow, huge or answers with an error raises `FetchFailed` with a reason
staff can act on; nothing partial is ever returned. The body is streamed and abandoned
past `max_bytes`, so a 50 MB answer costs 2 MB of memory at most.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from http.client import HTTPException, HTTPResponse

USER_AGENT = "DigitalSpacesCMS-feeds/1 (+city signage; conditional GET)"
CHUNK = 64 * 1024


class FetchFailed(Exception):
    """The source gave no usable answer; the message is for staff."""


@dataclass(frozen=True)
class FetchLimits:
    max_bytes: int = 2 * 1024 * 1024
    connect_s: float = 5.0  # also the longest wait for any one read
    total_s: float = 20.0


@dataclass(frozen=True)
class Fetched:
    not_modified: bool  # 304: the copy we hold is still current
    body: bytes = b""
    charset: str | None = None  # as declared in Content-Type
    etag: str = ""
    last_modified: str = ""


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        if not newurl.lower().startswith(("http://", "https://")):
            raise FetchFailed(f"the source redirects to {newurl!r}, which is not http(s)")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.OpenerDirector()
for _handler in (
    urllib.request.HTTPHandler(),
    urllib.request.HTTPSHandler(),
    _HttpOnlyRedirects(),
    urllib.request.HTTPErrorProcessor(),
    urllib.request.HTTPDefaultErrorHandler(),
):
    _OPENER.add_handler(_handler)


def fetch(
    url: str,
    *,
    etag: str = "",
    last_modified: str = "",
    limits: FetchLimits = FetchLimits(),
    monotonic: Callable[[], float] = time.monotonic,
) -> Fetched:
    if not url.lower().startswith(("http://", "https://")):
        raise FetchFailed("the address must start with http:// or https://")
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    deadline = monotonic() + limits.total_s
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 (scheme checked above)
    try:
        response: HTTPResponse = _OPENER.open(request, timeout=limits.connect_s)
    except urllib.error.HTTPError as error:
        error.close()
        if error.code == 304:
            return Fetched(not_modified=True, etag=etag, last_modified=last_modified)
        raise FetchFailed(f"the source answered HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError, HTTPException) as error:
        reason = getattr(error, "reason", error)
        raise FetchFailed(f"could not reach the source: {reason}") from None
    with response:
        body = _read_limited(response, limits, deadline, monotonic)
        info: Message = response.headers
        return Fetched(
            not_modified=False,
            body=body,
            charset=info.get_content_charset(),
            etag=info.get("ETag", ""),
            last_modified=info.get("Last-Modified", ""),
        )


def _read_limited(
    response: HTTPResponse, limits: FetchLimits, deadline: float, monotonic: Callable[[], float]
) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > limits.max_bytes:
        raise FetchFailed(
            f"the source is {_mb(int(declared))}; the limit is {_mb(limits.max_bytes)}"
        )
    parts: list[bytes] = []
    size = 0
    while True:
        if monotonic() > deadline:
            raise FetchFailed(f"the source took over {limits.total_s:g} s to send its feed")
        try:
            chunk = response.read1(CHUNK)
        except TimeoutError:
            raise FetchFailed(
                f"the source stopped sending for over {limits.connect_s:g} s"
            ) from None
        except (OSError, HTTPException) as error:
            raise FetchFailed(f"the connection broke while reading: {error}") from None
        if not chunk:
            return b"".join(parts)
        size += len(chunk)
        if size > limits.max_bytes:
            raise FetchFailed(f"the source sent over {_mb(limits.max_bytes)}, the limit")
        parts.append(chunk)


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"
