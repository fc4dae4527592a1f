"""Checks of a campaign against the screens it reaches: the screen profiles' rules
(refused, or the screens skipped when staff chose so), its zones and playlists, and the
legibility warnings of its pictures. Used by `campaigns` on save, submit and approve."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from central_cms import links, media, reach
from central_cms import models as m
from central_cms.errors import Conflict, Invalid
from central_cms.playlist_models import DeviceGroup, Playlist
from central_cms.policy import Actor
from central_cms.rules import RuleViolation
from central_cms.runtime import CmsRuntime
from central_cms.zones import LAYOUT_KINDS, ZONE_NAMES, zones_of
from devices.protocol import ItemKind, ProfileKind
from devices.protocol.layouts import MAIN_ZONE

if TYPE_CHECKING:
    from central_cms.campaigns import CampaignInput

log = logging.getLogger(__name__)


def review(session: Session, data: CampaignInput) -> reach.Review:
    """The rules of the screens it reaches against every item that would play there."""
    media_titles = dict(
        session.execute(
            select(m.MediaAsset.id, m.MediaAsset.title).where(
                m.MediaAsset.id.in_([i.media_id for i in data.items if i.media_id is not None])
            )
        ).all()
    )
    items = [
        reach.CheckedItem(
            reach.own_item_spec(
                number,
                item.kind,
                item.duration_s,
                item.text,
                item.link_url,
                item.alt_text
                or (item.text.title if item.text else "")
                or media_titles.get(item.media_id or -1, ""),
            ),
            item.zone,
            number,
        )
        for number, item in enumerate(data.items, start=1)
    ]
    items += reach.playlist_items(session, data.zone_playlists or {})
    return reach.review(session, data.targets, items, data.layouts or {})


def rule_violations(session: Session, data: CampaignInput) -> list[RuleViolation]:
    return review(session, data).violations


def legibility_warnings(session: Session, rt: CmsRuntime, data: CampaignInput) -> list[str]:
    """Pictures whose small print the player would shrink past reading on a targeted screen
    (issue 13, point 18). Warnings, not refusals: a photo with a little text is fine."""
    profiles = [
        p for p in reach.targeted_profiles(session, data.targets) if p.kind != ProfileKind.PORTAL
    ]
    found: list[str] = []
    measured: dict[int, float | None] = {}
    for number, item in enumerate(data.items, start=1):
        asset = session.get(m.MediaAsset, item.media_id) if item.media_id is not None else None
        if item.kind is not ItemKind.IMAGE or asset is None or not asset.width_px:
            continue
        if asset.id not in measured:
            try:
                measured[asset.id] = media.small_print_px(rt.blobs.read(asset.sha256))
            except (OSError, ValueError, Image.DecompressionBombError):
                # A warning must never stop a save; the upload was checked when it came in.
                log.warning("cannot measure the small print of media %s", asset.id, exc_info=True)
                measured[asset.id] = None
        for profile in profiles:
            warning = media.legibility(
                measured[asset.id],
                (asset.width_px, asset.height_px or 1),
                (profile.width_px, profile.height_px),
                item.fit,
            )
            if warning is not None:
                screen = f"the {profile.width_px}x{profile.height_px} {profile.kind} screen"
                found.append(
                    f"Item {number} ({item.alt_text or asset.title}): "
                    f"{warning.message(f'{screen} “{profile.name}”')}."
                )
    return found


def validate_zones(session: Session, actor: Actor, data: CampaignInput) -> None:
    if any(kind not in LAYOUT_KINDS for kind in data.layouts or {}):
        raise Invalid("layouts", "Roadside screens are always one picture, full screen.")
    zones = set().union(*(zones_of(t) for t in (data.layouts or {}).values()), {MAIN_ZONE})
    for zone, playlist_id in (data.zone_playlists or {}).items():
        playlist = session.get(Playlist, playlist_id)
        field_name = f"zone-{zone}-playlist"
        if zone not in zones:
            raise Invalid(
                field_name,
                f"{ZONE_NAMES.get(zone, zone)}: none of the layouts chosen has this zone; "
                "choose a layout with it or no playlist.",
            )
        if playlist is None or not actor.covers_site(playlist.owner_site_id):
            raise Conflict(field_name, f"{ZONE_NAMES.get(zone, zone)}: choose a playlist.")
    for number, item in enumerate(data.items, start=1):
        if item.zone not in zones:
            raise Invalid("items", f"Item {number}: the layouts chosen have no zone {item.zone}.")
    unknown = [g for g in data.targets.groups if session.get(DeviceGroup, g) is None]
    if unknown:
        raise Conflict("targets", f"Unknown device group: {', '.join(sorted(unknown))}.")


def skip_profiles(session: Session, data: CampaignInput) -> list[str]:
    """The profiles to skip (staff chose to skip screens that cannot show it); refuses
    the rule violations otherwise, and a campaign no targeted screen can show."""
    found = review(session, data)
    if not data.skip_unable:
        _refuse(found.violations)
        return []
    if found.reached_profiles and len(found.skipped) == found.reached_profiles:
        reasons = [reason for skipped in found.skipped for reason in skipped.reasons]
        raise Conflict(
            "targets", "None of the screens it targets can show it: " + reasons[0], reasons
        )
    return sorted(skipped.profile_id for skipped in found.skipped)


def _refuse(violations: list[RuleViolation]) -> None:
    if violations:
        by_field: dict[tuple[int, str], list[str]] = {}
        for v in violations:
            # A playlist's item is shown beside the zone's playlist choice (number 0).
            key = (0, v.field) if v.source else (v.item_number, v.field or "kind")
            by_field.setdefault(key, []).append(str(v))
        problems = [str(v) for v in violations]
        tip = ". Or tick “Skip screens that cannot show this”."
        raise Conflict("items", problems[0].rstrip(".") + tip, problems, item_problems=by_field)


def refuse_links(session: Session, policy: links.LinkPolicy, data: CampaignInput) -> None:
    """Links outside the city's destinations (or not https), each beside its field."""
    problems: dict[tuple[int, str], list[str]] = {}
    for number, item in enumerate(data.items, start=1):
        why = policy.refusal(item.link_url) if item.link_url else None
        if why:
            asset = session.get(m.MediaAsset, item.media_id) if item.media_id else None
            label = (
                item.alt_text
                or (item.text.title if item.text else "")
                or (asset.title if asset else "")
            )
            named = f"Item {number} ({label})" if label else f"Item {number}"
            problems[(number, "link_url")] = [f"{named}: {why}."]
    if problems:
        messages = [message for found in problems.values() for message in found]
        raise Invalid("items", messages[0], messages, item_problems=problems)
