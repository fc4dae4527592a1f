"""Responses decided without Flask: pages, redirects and the headers every page carries.
The routes and the WSGI fast path only send them (#6)."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass


@functools.lru_cache(maxsize=256)
def security_headers(form_targets: tuple[str, ...], style_hash: str) -> tuple[tuple[str, str], ...]:
    """The headers every page carries; built once per (form targets, inline style)."""
    form_action = " ".join(("'self'", *form_targets))
    style = f"'self' {style_hash}".strip()
    return (
        (
            "Content-Security-Policy",
            f"default-src 'none'; img-src 'self'; style-src {style}; "
            f"form-action {form_action}; base-uri 'none'; frame-ancestors 'none'",
        ),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "no-referrer"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Cross-Origin-Resource-Policy", "same-origin"),
        ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
    )


@dataclass(frozen=True)
class Page:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def html_page(
    status: int, body: str, headers: Iterable[tuple[str, str]], *, no_store: bool = True
) -> Page:
    data = body.encode()
    return Page(
        status,
        (
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", str(len(data))),
            *((("Cache-Control", "no-store"),) if no_store else ()),
            *headers,
        ),
        data,
    )


@dataclass(frozen=True)
class Redirect:
    status: int  # 302 or 303
    location: str
