"""The staff UI's navigation: blueprints add entries here; the layout lists those the
user may see. Issue 7's analytics pages add theirs the same way."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask

from central_cms.policy import Permission


@dataclass(frozen=True)
class NavEntry:
    label: str
    endpoint: str
    permission: Permission = Permission.READ
    order: int = 50


def add_nav(app: Flask, entry: NavEntry) -> None:
    entries: list[NavEntry] = app.extensions.setdefault("ds_nav", [])
    entries.append(entry)
    entries.sort(key=lambda e: (e.order, e.label))


def nav_entries(app: Flask) -> list[NavEntry]:
    entries: list[NavEntry] = app.extensions.get("ds_nav", [])
    return entries
