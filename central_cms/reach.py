"""Which targeted screens can show a campaign, and why the others cannot.

The rules of every screen profile a campaign reaches are checked against every item that
would play there (its own items and its zones' playlists; roadside screens play only the
main zone). Staff choose what happens to a screen whose rules an item breaks: refuse the
campaign (each problem beside its field, once per rule), or "skip screens that cannot
show this", so a cross-promotion reaches every screen able to show it and lists the
screens it skipped and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from central_cms import models as m
from central_cms import snapshot
from central_cms.playlist_models import Playlist
from central_cms.rules import ProfileRules, RuleViolation, check_items
from central_cms.specs import ItemSpec, Targets
from devices.protocol import ItemKind, ProfileKind, TextSlide
from devices.protocol.layouts import MAIN_ZONE, LayoutTemplate, build_layout


@dataclass(frozen=True)
class CheckedItem:
    spec: ItemSpec
    zone: str
    number: int  # 1-based, within its source
    source: str = ""  # "" for the campaign's own items, else “<playlist name>”


@dataclass(frozen=True)
class Skipped:
    profile_id: str
    profile: str  # as staff name it, with its size
    screens: tuple[str, ...]  # the screens' names (or ids)
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Review:
    violations: list[RuleViolation]  # once per rule and item, naming every profile
    skipped: list[Skipped]
    reached_profiles: int  # screen profiles the targets reach before skipping


def own_item_spec(
    number: int,
    kind: ItemKind,
    duration_s: float,
    text: TextSlide | None,
    link: str | None,
    label: str,
) -> ItemSpec:
    return ItemSpec(
        id=f"check-{number}",
        kind=kind,
        duration_s=duration_s,
        text=text,
        link_url=link,
        label=label,
    )


def playlist_items(session: Session, zone_playlists: dict[str, str]) -> list[CheckedItem]:
    from central_cms.playlists import label_of

    found: list[CheckedItem] = []
    for zone, playlist_id in sorted(zone_playlists.items()):
        playlist = session.get(Playlist, playlist_id)
        if playlist is None:
            continue
        for number, item in enumerate(playlist.items, start=1):
            spec = ItemSpec(
                id=f"check-{zone}-{number}",
                kind=ItemKind(item.kind),
                duration_s=item.duration_s,
                text=TextSlide.model_validate(item.text) if item.text else None,
                label=label_of(item)[:80],
            )
            found.append(CheckedItem(spec, zone, number, f"Playlist “{playlist.name}”"))
    return found


def targeted_profiles(session: Session, targets: Targets) -> list[m.ScreenProfile]:
    """Explicitly targeted profiles and those of every device the targets reach, before
    any is skipped."""
    targets = replace(targets, skip_profiles=frozenset())
    ids = set(targets.profiles)
    ids |= {d.profile_id for d in snapshot.load_devices(session) if targets.matches(d)}
    if not ids:
        return []
    query = (
        select(m.ScreenProfile).where(m.ScreenProfile.id.in_(ids)).order_by(m.ScreenProfile.name)
    )
    return list(session.scalars(query))


def _zone_rules(
    rules: ProfileRules, profile: m.ScreenProfile, template: LayoutTemplate | None, zone: str
) -> ProfileRules:
    """Text is measured in the zone it plays in, where the campaign's layout has it."""
    if rules.canvas_px is None or template is None or profile.kind == ProfileKind.ROADSIDE:
        return rules
    layout = build_layout(template, profile.width_px, profile.height_px)
    if zone not in layout.zone_names:
        return rules
    box = layout.zone(zone)
    return replace(rules, canvas_px=(box.width_px, box.height_px))


def violations_by_profile(
    profiles: Sequence[m.ScreenProfile],
    items: Sequence[CheckedItem],
    layouts: dict[ProfileKind, LayoutTemplate],
) -> dict[str, list[RuleViolation]]:
    found: dict[str, list[RuleViolation]] = {}
    for profile in profiles:
        rules = snapshot.profile_rules(profile)
        template = layouts.get(ProfileKind(profile.kind))
        for item in items:
            if profile.kind == ProfileKind.ROADSIDE and item.zone != MAIN_ZONE:
                continue  # roadside screens play the main zone only
            zone_rules = _zone_rules(rules, profile, template, item.zone)
            for violation in check_items([item.spec], [zone_rules]):
                if item.source:  # shown beside the zone's playlist choice
                    violation = replace(violation, field=f"zone-{item.zone}-playlist")
                found.setdefault(profile.id, []).append(
                    replace(violation, item_number=item.number, source=item.source)
                )
    return found


def once_per_rule(violations: Sequence[RuleViolation]) -> list[RuleViolation]:
    """One message per item and rule, naming every profile it concerns."""
    merged: dict[tuple[str, int, str, str, str], RuleViolation] = {}
    profiles: dict[tuple[str, int, str, str, str], list[str]] = {}
    for v in violations:
        key = (v.source, v.item_number, v.rule, v.fix, v.field)
        merged.setdefault(key, v)
        if v.profile not in profiles.setdefault(key, []):
            profiles[key].append(v.profile)
    return [replace(v, profile=" and ".join(profiles[key])) for key, v in merged.items()]


def review(
    session: Session,
    targets: Targets,
    items: Sequence[CheckedItem],
    layouts: dict[ProfileKind, LayoutTemplate],
) -> Review:
    profiles = targeted_profiles(session, targets)
    by_profile = violations_by_profile(profiles, items, layouts)
    unskipped = replace(targets, skip_profiles=frozenset())
    reached = [d for d in snapshot.load_devices(session) if unskipped.matches(d)]
    names = dict(session.execute(select(m.Device.id, m.Device.name)).all())
    skipped = [
        Skipped(
            profile.id,
            snapshot.profile_rules(profile).name,
            tuple(sorted(names.get(d.id) or d.id for d in reached if d.profile_id == profile.id)),
            tuple(dict.fromkeys(str(v) for v in once_per_rule(by_profile[profile.id]))),
        )
        for profile in profiles
        if by_profile.get(profile.id)
    ]
    every = [v for found in by_profile.values() for v in found]
    return Review(once_per_rule(every), skipped, len(profiles))
