"""The campaign editor's issue-14 fields: where (every site, every site but the owner,
device groups, skip screens that cannot show it), layouts per kind of screen and a
playlist per zone. Parsed and prefilled here so the editor view stays readable."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from central_cms import models as m
from central_cms import playlists
from central_cms.errors import Invalid
from central_cms.playlist_models import DeviceGroup
from central_cms.policy import Actor
from central_cms.views.common import checkbox
from central_cms.zones import ALL_ZONES, LAYOUT_KINDS, TEMPLATE_NAMES, ZONE_NAMES
from devices.protocol import ProfileKind
from devices.protocol.layouts import MAIN_ZONE, LayoutTemplate

SCOPES = (
    ("chosen", "Only the sites ticked below (none ticked: every site)"),
    ("others", "Every other site: all sites but its owner"),
)
KIND_NAMES = {ProfileKind.INDOOR: "indoor screens", ProfileKind.PORTAL: "the Wi-Fi splash"}


def parse_layouts(form: MultiDict[str, str]) -> dict[ProfileKind, LayoutTemplate]:
    found = {}
    for kind in LAYOUT_KINDS:
        raw = form.get(f"layout-{kind.value}", "")
        if raw:
            try:
                found[kind] = LayoutTemplate(raw)
            except ValueError:
                raise Invalid(f"layout-{kind.value}", "Choose a layout from the list.") from None
    return found


def parse_zone_playlists(form: MultiDict[str, str]) -> dict[str, str]:
    return {
        zone: form[f"zone-{zone}-playlist"]
        for zone in ALL_ZONES
        if form.get(f"zone-{zone}-playlist")
    }


def parse_item_zone(form: MultiDict[str, str], n: int) -> str:
    zone = form.get(f"items-{n}-zone", MAIN_ZONE)
    if zone not in ALL_ZONES:
        raise Invalid(f"items-{n}-zone", f"Item {n + 1}: choose a zone from the list.")
    return zone


def is_others(form: MultiDict[str, str]) -> bool:
    return form.get("scope") == "others"


def skip_unable(form: MultiDict[str, str]) -> bool:
    return checkbox(form.get("skip_unable"))


def form_values(campaign: m.Campaign, zones: dict[str, str]) -> dict[str, Any]:
    targets = campaign.targets
    values: dict[str, Any] = {
        "scope": "others" if targets.get("except_sites") else "chosen",
        "target_groups": targets.get("groups", []),
        "skip_unable": bool(targets.get("skip_unable")),
        **{f"layout-{kind}": template for kind, template in campaign.layouts.items()},
        **{f"zone-{zone}-playlist": playlist for zone, playlist in zones.items()},
    }
    for n, item in enumerate(campaign.items):
        values[f"items-{n}-zone"] = item.zone
    return values


def choices(session: Session, actor: Actor) -> dict[str, Any]:
    return {
        "scopes": SCOPES,
        "groups": session.scalars(select(DeviceGroup).order_by(DeviceGroup.name)).all(),
        "layout_kinds": [(kind.value, KIND_NAMES[kind]) for kind in LAYOUT_KINDS],
        "templates": [(t.value, name) for t, name in TEMPLATE_NAMES.items()],
        "zones": [(zone, ZONE_NAMES[zone]) for zone in ALL_ZONES],
        "playlists": playlists.visible(session, actor),
    }


def error_fields(error: Invalid) -> dict[str, list[str]]:
    """A refusal about one of these fields, to show beside it (not only at the top)."""
    beside = error.field.startswith(("zone-", "layout-", "items-")) or error.field == "targets"
    return {error.field: list(error.problems)} if beside else {}
