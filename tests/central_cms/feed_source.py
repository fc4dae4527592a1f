"""A real local HTTP server standing in for a booking system or news site: each test sets
what it answers (body, charset, ETag, or a misbehaviour) and sees the requests it got."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Answer:
    body: bytes = b""
    content_type: str = "text/calendar; charset=utf-8"
    etag: str = ""
    status: int = 200
    location: str = ""  # with a 3xx status: where the source redirects
    # Misbehaviours: stream `endless_mb` MB with no Content-Length, send part of the
    # body then stall until the test ends, or trickle it.
    endless_mb: int = 0
    stall_after: int | None = None
    trickle: bool = False  # one byte every 0.2 s: each read is quick, the whole is not


@dataclass
class FeedSource:
    answer: Answer = field(default_factory=Answer)
    requests: list[dict[str, str]] = field(default_factory=list)
    bytes_sent: int = 0
    released: threading.Event = field(default_factory=threading.Event)
    port: int = 0

    def url(self, path: str = "/classes.ics") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def _handler(source: FeedSource) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            source.requests.append({k.lower(): v for k, v in self.headers.items()})
            answer = source.answer
            if answer.etag and self.headers.get("If-None-Match") == answer.etag:
                self.send_response(304)
                self.send_header("ETag", answer.etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            if answer.etag:
                self.send_header("ETag", answer.etag)
            if answer.location:
                self.send_header("Location", answer.location)
            if answer.endless_mb:
                self.send_header("Connection", "close")
                self.end_headers()
                self._stream(answer.endless_mb)
                return
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            if answer.trickle:
                for index in range(len(answer.body)):
                    if source.released.wait(0.2):
                        return
                    self.wfile.write(answer.body[index : index + 1])
                    self.wfile.flush()
                return
            if answer.stall_after is not None:
                self.wfile.write(answer.body[: answer.stall_after])
                self.wfile.flush()
                source.released.wait(30)
                return
            self.wfile.write(answer.body)
            source.bytes_sent += len(answer.body)

        def _stream(self, megabytes: int) -> None:
            chunk = b"BEGIN:VEVENT\r\nSUMMARY:x\r\nEND:VEVENT\r\n" * 1000
            try:
                while source.bytes_sent < megabytes * 1024 * 1024:
                    self.wfile.write(chunk)
                    source.bytes_sent += len(chunk)
            except OSError:
                pass  # the CMS hung up, as it should

    return Handler


def serve() -> Iterator[FeedSource]:
    """Yield a running source (use as a pytest fixture body); stops it afterwards."""
    source = FeedSource()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(source))
    server.daemon_threads = True
    source.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield source
    finally:
        source.released.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
