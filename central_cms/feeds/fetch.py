"""Getting a feed's body over HTTP: conditional, size-limited and time-limited.

A source that is slow, huge or answers with an error raises `FetchFailed` with a reason
staff can act on; nothing partial is ever returned. The body is streamed and abandoned
past `max_bytes`, so a 50 MB answer costs 2 MB of memory at most.

Every connection, the first and each redirect's, goes only to an address `FeedHosts`
allows (central_cms/feeds/addresses.py): the name is resolved once, the addresses are
judged, and the socket connects to a judged address, so DNS cannot answer one thing to
the check and another to the connection. No proxy is used (no ProxyHandler), so the
address judged is the one connected to.
"""

from __future__ import annotations

import http.client
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import Message
from http.client import HTTPException, HTTPResponse
from ipaddress import ip_address
from typing import Any

from central_cms.feeds.addresses import PUBLIC_ONLY, Address, FeedHosts

USER_AGENT = "DigitalSpacesCMS-feeds/1 (+city signage; conditional GET)"
CHUNK = 64 * 1024


class FetchFailed(Exception):
    """The source gave no usable answer; the message is for staff."""


class AddressRefused(FetchFailed):
    """The source, or where it redirects, is an internal address IT has not listed."""


AddrInfo = tuple[Any, ...]  # one socket.getaddrinfo row
Resolver = Callable[[str, int], Sequence[AddrInfo]]


def resolve(host: str, port: int) -> Sequence[AddrInfo]:
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


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


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Each hop must be http(s); a literal internal address is refused before connecting
    (names are judged when the connection to them is made)."""

    def __init__(self, hosts: FeedHosts) -> None:
        self._hosts = hosts

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        if not newurl.lower().startswith(("http://", "https://")):
            raise FetchFailed(f"the source redirects to {newurl!r}, which is not http(s)")
        refusal = self._hosts.url_refusal(newurl)
        if refusal:
            raise AddressRefused(f"the source redirects to {newurl}: {refusal}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def checked_connector(
    hosts: FeedHosts, resolver: Resolver = resolve
) -> Callable[..., socket.socket]:
    """A `socket.create_connection` that connects only to addresses `hosts` allows."""

    def connect(
        address: tuple[str, int],
        timeout: object = socket._GLOBAL_DEFAULT_TIMEOUT,  # type: ignore[attr-defined]
        source_address: tuple[str, int] | None = None,
    ) -> socket.socket:
        host, port = address
        rows = resolver(host, port)
        found: list[Address] = [ip_address(str(row[4][0]).split("%", 1)[0]) for row in rows]
        refusal = hosts.connection_refusal(host, port, found)
        if refusal:
            raise AddressRefused(refusal)
        error: OSError = OSError(f"{host} has no address")
        for family, kind, proto, _, sockaddr in rows:
            sock = socket.socket(family, kind, proto)
            try:
                if timeout is not socket._GLOBAL_DEFAULT_TIMEOUT:  # type: ignore[attr-defined]
                    sock.settimeout(timeout)  # type: ignore[arg-type]
                if source_address:
                    sock.bind(source_address)
                sock.connect(sockaddr)
                return sock
            except OSError as failed:
                sock.close()
                error = failed
        raise error

    return connect


def _opener(hosts: FeedHosts, resolver: Resolver) -> urllib.request.OpenerDirector:
    connector = checked_connector(hosts, resolver)

    def checked(cls: type[http.client.HTTPConnection]) -> Callable[..., http.client.HTTPConnection]:
        def make(host: str, **kwargs: Any) -> http.client.HTTPConnection:
            connection = cls(host, **kwargs)
            # http.client's own hook for how it opens its socket (plain and TLS alike:
            # HTTPS wraps what this returns, with the URL's name for SNI and the check).
            connection._create_connection = connector  # type: ignore[attr-defined]
            return connection

        return make

    class Http(urllib.request.HTTPHandler):
        def http_open(self, req):  # type: ignore[no-untyped-def]
            return self.do_open(checked(http.client.HTTPConnection), req)

    class Https(urllib.request.HTTPSHandler):
        def https_open(self, req):  # type: ignore[no-untyped-def]
            return self.do_open(
                checked(http.client.HTTPSConnection),
                req,
                context=self._context,  # type: ignore[attr-defined]
            )

    opener = urllib.request.OpenerDirector()
    for handler in (
        Http(),
        Https(),
        _CheckedRedirects(hosts),
        urllib.request.HTTPErrorProcessor(),
        urllib.request.HTTPDefaultErrorHandler(),
    ):
        opener.add_handler(handler)
    return opener


def fetch(
    url: str,
    *,
    hosts: FeedHosts = PUBLIC_ONLY,
    resolver: Resolver = resolve,
    etag: str = "",
    last_modified: str = "",
    limits: FetchLimits = FetchLimits(),
    monotonic: Callable[[], float] = time.monotonic,
) -> Fetched:
    if not url.lower().startswith(("http://", "https://")):
        raise FetchFailed("the address must start with http:// or https://")
    refusal = hosts.url_refusal(url)
    if refusal:
        raise AddressRefused(refusal)
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    deadline = monotonic() + limits.total_s
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 (scheme checked above)
    try:
        response: HTTPResponse = _opener(hosts, resolver).open(request, timeout=limits.connect_s)
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
