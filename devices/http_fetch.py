"""Fetching an asset over HTTP(S) into a file: resumable, retried, verified.

Two layers. `Transport` is the seam to the network: one narrow method, so tests and other
callers can hand in their own; `UrllibTransport` is the real one (standard library only).
`Downloader` turns a transport into "complete this partial file with the asset's bytes and
prove they hash to its name", with Range resume and capped backoff. The store around it (file
names, locks, atomic install, budget) is `devices.cache`, which re-exports the errors below.

Contract for every transport:

- `open` returns a `Response` for any HTTP status (errors included, so the caller decides what
  is retried); it raises `OSError` when no response arrives (refused, reset, timed out), and
  `RefusedUrlError` for a URL or redirect it will not follow.
- `Response.read` returns `b""` at the end of the body, which may come before the length the
  server announced (a cut connection); it raises `OSError` when the connection breaks.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import random
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from typing import IO, Protocol
from urllib.parse import SplitResult, urlsplit

log = logging.getLogger(__name__)

ALLOWED_SCHEMES = frozenset({"http", "https"})
_SHA256 = re.compile(r"[0-9a-f]{64}")
_READ_BYTES = 64 * 1024
_RETRY_STATUSES = frozenset({408, 425, 429})


class AssetLike(Protocol):
    """What the cache needs of an asset reference (`devices.protocol.AssetRef` fits)."""

    @property
    def sha256(self) -> str: ...

    @property
    def url(self) -> str: ...

    @property
    def size_bytes(self) -> int: ...


class CacheError(Exception):
    """Base of everything the content cache raises."""


class InvalidAssetError(CacheError, ValueError):
    def __init__(self, field: str, value: object, fix: str) -> None:
        super().__init__(f"asset {field}={value!r}: {fix}")
        self.field = field
        self.value = value


class IntegrityError(CacheError):
    """The bytes do not match the asset reference; the partial was deleted, nothing installed."""

    def __init__(self, sha256: str, field: str, expected: str | int, actual: str | int) -> None:
        super().__init__(
            f"asset {sha256}: {field} should be {expected} but the download gave {actual};"
            " not installed (check the CMS media library for this asset)"
        )
        self.sha256 = sha256
        self.field = field
        self.expected = expected
        self.actual = actual


class DownloadError(CacheError):
    """The asset could not be fetched; `status` is the last HTTP status, None if none came."""

    def __init__(
        self, sha256: str, url: str, status: int | None, attempts: int, reason: str
    ) -> None:
        super().__init__(f"asset {sha256} from {url}: {reason} (after {attempts} attempt(s))")
        self.sha256 = sha256
        self.url = url
        self.status = status
        self.attempts = attempts


class RefusedUrlError(ValueError):
    """A URL (or a redirect) the transport will not follow; retrying cannot help."""


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with jitter for transient failures (no response, 5xx, 429)."""

    max_attempts: int = 6
    base_delay_s: float = 1.0
    max_delay_s: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts={self.max_attempts}: needs at least 1")
        if not 0 < self.base_delay_s <= self.max_delay_s:
            raise ValueError(
                f"base_delay_s={self.base_delay_s}, max_delay_s={self.max_delay_s}:"
                " need 0 < base_delay_s <= max_delay_s"
            )

    def delay_s(self, retry_index: int, rng: random.Random, retry_after_s: float | None) -> float:
        nominal = min(self.max_delay_s, self.base_delay_s * 2.0**retry_index)
        # Half fixed, half random: a fleet that lost the CMS together does not return together.
        delay = nominal / 2 + rng.uniform(0, nominal / 2)
        if retry_after_s is not None:
            delay = max(delay, min(retry_after_s, self.max_delay_s))
        return delay


class Response(Protocol):
    @property
    def status(self) -> int:
        """The HTTP status code."""
        ...

    @property
    def start_offset(self) -> int:
        """Offset in the whole file of the body's first byte: the Content-Range start for a 206,
        otherwise 0."""
        ...

    @property
    def total_bytes(self) -> int | None:
        """Length of the whole file if the server said (Content-Range total, or Content-Length
        of a 200)."""
        ...

    @property
    def retry_after_s(self) -> float | None:
        """Retry-After in seconds, when the server sent it as a number."""
        ...

    def read(self, max_bytes: int) -> bytes: ...

    def close(self) -> None: ...


class Transport(Protocol):
    def open(self, url: str, *, offset: int) -> Response:
        """Request `url` from byte `offset` on (a Range request when `offset` > 0). A server may
        ignore the Range and answer 200 from byte 0: check `Response.start_offset`."""
        ...


def _origin(url: SplitResult) -> tuple[str, str | None, int | None]:
    return url.scheme, url.hostname, url.port


def _check_url(url: str) -> SplitResult:
    parts = urlsplit(url)
    if parts.scheme not in ALLOWED_SCHEMES or not parts.hostname:
        raise RefusedUrlError(f"refusing to fetch {url!r}: only http(s) URLs with a host")
    return parts


class _RedirectPolicy(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to http(s), never from https down to http, and send the device
    token only to the origin it was meant for (urllib would otherwise copy it to any host)."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        old = urlsplit(req.full_url)
        new = urlsplit(newurl)
        if new.scheme not in ALLOWED_SCHEMES or (old.scheme == "https" and new.scheme != "https"):
            fp.close()
            raise RefusedUrlError(f"refusing redirect from {req.full_url!r} to {newurl!r}")
        new_req = super().redirect_request(req, fp, code, msg, headers, newurl)
        token = req.unredirected_hdrs.get("Authorization")
        if new_req is not None and token is not None and _origin(old) == _origin(new):
            new_req.add_unredirected_header("Authorization", token)
        return new_req


def _parse_content_range(value: str | None) -> tuple[int, int | None] | None:
    """`bytes START-END/TOTAL` (TOTAL may be `*`) -> (START, TOTAL or None)."""
    if value is None:
        return None
    unit, _, rest = value.strip().partition(" ")
    span, _, total = rest.partition("/")
    start, _, _ = span.partition("-")
    if unit.lower() != "bytes" or not start.isdigit():
        return None
    return int(start), int(total) if total.isdigit() else None


def _int_header(value: str | None) -> int | None:
    return int(value) if value is not None and value.strip().isdigit() else None


class _UrllibResponse:
    def __init__(self, status: int, headers: Message, body: IO[bytes]) -> None:
        self._body = body
        self.status = status
        self.retry_after_s: float | None = None
        retry_after = _int_header(headers.get("Retry-After"))
        if retry_after is not None:
            self.retry_after_s = float(retry_after)
        self.start_offset = 0
        self.total_bytes: int | None = None
        if status == 206:
            content_range = _parse_content_range(headers.get("Content-Range"))
            if content_range is not None:
                self.start_offset, self.total_bytes = content_range
        elif status == 200:
            self.total_bytes = _int_header(headers.get("Content-Length"))

    def read(self, max_bytes: int) -> bytes:
        try:
            return self._body.read(max_bytes)
        except http.client.HTTPException as exc:  # e.g. IncompleteRead in a chunked body
            raise ConnectionError(f"response body broken: {exc!r}") from exc

    def close(self) -> None:
        self._body.close()


class UrllibTransport:
    """HTTP(S) with the device's bearer token (the CMS serves assets only to devices)."""

    def __init__(
        self, token: str, *, timeout_s: float = 30.0, user_agent: str = "digital-spaces-device"
    ) -> None:
        self._token = token
        self._timeout_s = timeout_s
        self._user_agent = user_agent
        self._opener = urllib.request.build_opener(_RedirectPolicy())

    def open(self, url: str, *, offset: int) -> Response:
        _check_url(url)
        request = urllib.request.Request(url, method="GET")  # noqa: S310 (scheme checked above)
        # Unredirected: urllib copies ordinary headers to wherever a redirect points.
        request.add_unredirected_header("Authorization", f"Bearer {self._token}")
        request.add_header("User-Agent", self._user_agent)
        # The bytes on disk must be the bytes that were hashed: no transfer compression.
        request.add_header("Accept-Encoding", "identity")
        if offset > 0:
            request.add_header("Range", f"bytes={offset}-")
        try:
            raw = self._opener.open(request, timeout=self._timeout_s)
        except urllib.error.HTTPError as exc:
            if 300 <= exc.code < 400:  # urllib refused it (a file: target, a redirect loop)
                exc.close()
                raise RefusedUrlError(f"refusing redirect from {url!r}: {exc.reason}") from exc
            return _UrllibResponse(exc.code, exc.headers, exc)
        # URLError (refused, DNS, timeout) is an OSError already, as the contract wants.
        except http.client.HTTPException as exc:  # e.g. BadStatusLine: a peer that broke HTTP
            raise ConnectionError(f"bad HTTP response from {url!r}: {exc!r}") from exc
        return _UrllibResponse(raw.status, raw.headers, raw)


class _Transient(Exception):
    """A failure another attempt may cure."""

    def __init__(
        self, reason: str, status: int | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after_s = retry_after_s


class _Permanent(Exception):
    """A failure no retry can cure (404, 401, a refused redirect)."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def check_asset(asset: AssetLike) -> str:
    """The asset's sha256, once it and the size are fit to use (InvalidAssetError if not)."""
    sha = check_sha(asset.sha256)
    if asset.size_bytes < 0:
        raise InvalidAssetError("size_bytes", asset.size_bytes, "must be 0 or more")
    return sha


def check_sha(sha256: str) -> str:
    # The name becomes a path: anything but 64 lowercase hex digits could escape the cache.
    if not _SHA256.fullmatch(sha256):
        raise InvalidAssetError("sha256", sha256, "must be 64 lowercase hex digits")
    return sha256


def _hash_prefix(fd: int, length: int) -> hashlib._Hash:
    """sha256 so far of the first `length` bytes of the file open at `fd`."""
    digest = hashlib.sha256()
    offset = 0
    while offset < length:
        block = os.pread(fd, min(1 << 20, length - offset), offset)
        if not block:
            break
        digest.update(block)
        offset += len(block)
    return digest


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


class Downloader:
    """Completes a partial file with an asset's bytes over a `Transport`, and verifies them.

    Transient failures (no response, a cut body, 408, 425, 429, 5xx) are retried up to
    `retry.max_attempts` with `retry`'s backoff, slept through `sleep`; others raise at once.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._transport = transport
        self._retry = retry if retry is not None else RetryPolicy()
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()

    def fetch(self, fd: int, asset: AssetLike, on_bytes: Callable[[int], None]) -> None:
        """Resume the file open at `fd` (read-write, holding a prefix of the asset or nothing)
        until it holds exactly the asset's bytes, calling `on_bytes(bytes so far)` per chunk.

        Raises DownloadError, IntegrityError (the file then holds junk: delete it), or
        CacheError when the file cannot be written.
        """
        failures = 0
        fresh_retry_left = True
        while True:
            try:
                digest, started_at = self._fetch_once(fd, asset, on_bytes)
            except _Permanent as exc:
                raise DownloadError(
                    asset.sha256, asset.url, exc.status, failures + 1, exc.reason
                ) from exc
            except _Transient as exc:
                failures += 1
                if failures >= self._retry.max_attempts:
                    raise DownloadError(
                        asset.sha256, asset.url, exc.status, failures, exc.reason
                    ) from exc
                delay_s = self._retry.delay_s(failures - 1, self._rng, exc.retry_after_s)
                log.warning(
                    "asset %s: %s; attempt %s of %s failed, retrying in %.1f s",
                    asset.sha256,
                    exc.reason,
                    failures,
                    self._retry.max_attempts,
                    delay_s,
                )
                self._sleep(delay_s)
                continue
            if digest == asset.sha256:
                return
            if started_at > 0 and fresh_retry_left:
                # The kept part may be what is wrong (a power cut can leave junk in it).
                fresh_retry_left = False
                log.warning("asset %s: hash mismatch after resuming; restarting", asset.sha256)
                os.ftruncate(fd, 0)
                continue
            raise IntegrityError(asset.sha256, "sha256", asset.sha256, digest)

    def _fetch_once(
        self, fd: int, asset: AssetLike, on_bytes: Callable[[int], None]
    ) -> tuple[str, int]:
        """Append to the partial from where it stops; return (hex digest, start offset)."""
        size = asset.size_bytes
        have = os.fstat(fd).st_size
        if have > size:
            os.ftruncate(fd, 0)
            have = 0
        digest = _hash_prefix(fd, have)
        if have == size:  # complete already (killed before the rename): only verify
            return digest.hexdigest(), have
        log.info("asset %s: downloading from byte %s of %s", asset.sha256, have, size)
        try:
            response = self._transport.open(asset.url, offset=have)
        except RefusedUrlError as exc:
            raise _Permanent(str(exc)) from exc
        except OSError as exc:
            raise _Transient(f"no response: {exc}") from exc
        try:
            status = response.status
            if status in _RETRY_STATUSES or status >= 500:
                raise _Transient(f"HTTP {status}", status, response.retry_after_s)
            if status == 416:  # the server's file is shorter than our partial: start over
                os.ftruncate(fd, 0)
                raise _Transient("HTTP 416 for a resumed download", status)
            if status not in (200, 206):
                raise _Permanent(f"HTTP {status}", status)
            start = response.start_offset if status == 206 else 0
            if start != have:
                if have > 0:
                    log.info("asset %s: server sent byte %s on, restarting", asset.sha256, start)
                os.ftruncate(fd, 0)
                if start != 0:
                    raise _Transient(f"asked for byte {have} on, got byte {start} on", status)
                have = 0
                digest = hashlib.sha256()
            started_at = have
            if response.total_bytes is not None and response.total_bytes != size:
                raise IntegrityError(asset.sha256, "size_bytes", size, response.total_bytes)
            while True:
                # One byte more than is due reveals an oversized body without storing it all.
                try:
                    chunk = response.read(min(_READ_BYTES, size - have + 1))
                except OSError as exc:
                    raise _Transient(f"connection broke at byte {have}: {exc}") from exc
                if not chunk:
                    break
                if have + len(chunk) > size:
                    raise IntegrityError(asset.sha256, "size_bytes", size, f"over {size}")
                try:
                    _pwrite_all(fd, chunk, have)
                except OSError as exc:  # ENOSPC, EIO: no retry of the download cures these
                    raise CacheError(f"asset {asset.sha256}: cannot write: {exc}") from exc
                digest.update(chunk)
                have += len(chunk)
                on_bytes(have)
            if have < size:
                raise _Transient(f"body ended at byte {have} of {size}", status)
            return digest.hexdigest(), started_at
        finally:
            response.close()
