"""From database rows to the compiler's plain values (and nothing else)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import time

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from central_cms import approved_versions
from central_cms import models as m
from central_cms.feeds.catalogue import feed_ref
from central_cms.feeds.models import Feed
from central_cms.links import ShortLinker
from central_cms.playlist_models import CampaignZone, DeviceGroupMember, Playlist, PlaylistItem
from central_cms.release_models import GroupChannel
from central_cms.rules import ProfileRules
from central_cms.screen_setup import display_setup, stored_setup
from central_cms.specs import (
    CampaignSpec,
    Catalogue,
    DeviceSpec,
    ItemSpec,
    MediaSpec,
    Targets,
)
from devices.protocol import (
    PORTAL_LANGUAGES,
    AssetRef,
    BrightnessStep,
    DeviceKind,
    Fit,
    ItemKind,
    OpeningHours,
    PortalSettings,
    ProfileKind,
    Schedule,
    ScreenProfile,
    SiteInfo,
    TextSlide,
    TimeWindow,
)
from devices.protocol.layouts import LayoutTemplate, Widget


def asset_url(public_url: str, sha256: str) -> str:
    return f"{public_url}/device-api/v1/assets/{sha256}"


def device_spec(
    device: m.Device, groups: Iterable[str] = (), channels: Mapping[str, str] | None = None
) -> DeviceSpec:
    """`channels`: group id -> release channel; the device follows the channel of its
    first group (by id) that follows one."""
    groups = sorted(groups)
    followed = [channels[g] for g in groups if channels and g in channels]
    setup = stored_setup(device.rotation_deg, device.power_mode, device.power_hours)
    site_hours = tuple(OpeningHours.model_validate(h) for h in device.site.opening_hours)
    return DeviceSpec(
        id=device.id,
        kind=DeviceKind(device.kind),
        site_id=device.site_id,
        profile_id=device.profile_id,
        tags=frozenset(device.tags),
        groups=frozenset(groups),
        software_channel=followed[0] if followed else None,
        display=display_setup(setup, site_hours)
        if device.kind == DeviceKind.SIGNAGE.value
        else None,
    )


def targets_of(raw: Mapping[str, object]) -> Targets:
    def values(key: str) -> frozenset[str]:
        found = raw.get(key) or []
        return frozenset(str(v) for v in found) if isinstance(found, list) else frozenset()

    return Targets(
        sites=values("sites"),
        tags=values("tags"),
        kinds=frozenset(DeviceKind(k) for k in values("kinds")),
        profiles=values("profiles"),
        groups=values("groups"),
        except_sites=values("except_sites"),
        skip_profiles=values("skip_profiles") if raw.get("skip_unable") else frozenset(),
    )


def site_info(site: m.Site) -> SiteInfo:
    return SiteInfo(
        id=site.id,
        name=site.name,
        timezone=site.timezone,
        brand_colour=site.brand_colour,
        opening_hours=tuple(OpeningHours.model_validate(h) for h in site.opening_hours),
    )


def _hhmm(value: str) -> time:
    return time.fromisoformat(value)


def screen_profile(profile: m.ScreenProfile) -> ScreenProfile:
    night = None
    if profile.night_blank_start and profile.night_blank_end:
        night = TimeWindow(
            start=_hhmm(profile.night_blank_start), end=_hhmm(profile.night_blank_end)
        )
    return ScreenProfile(
        name=profile.name,
        kind=ProfileKind(profile.kind),
        width_px=profile.width_px,
        height_px=profile.height_px,
        min_dwell_s=profile.min_dwell_s,
        allow_video=profile.allow_video,
        transitions=profile.transitions,
        night_blank=night,
        brightness=tuple(BrightnessStep.model_validate(b) for b in profile.brightness),
        max_content_age_s=profile.max_content_age_s,
    )


def profile_rules(profile: m.ScreenProfile) -> ProfileRules:
    return ProfileRules(
        profile_id=profile.id,
        name=f"{profile.name} ({profile.width_px}x{profile.height_px})",
        min_dwell_s=profile.min_dwell_s,
        allow_video=profile.allow_video,
        forbid_contact_text=profile.forbid_contact_text,
        canvas_px=(profile.width_px, profile.height_px)
        if profile.kind != ProfileKind.PORTAL
        else None,
        title_only=profile.kind == ProfileKind.ROADSIDE,
    )


def portal_settings(site: m.Site) -> PortalSettings:
    """The site's portal settings with its splash languages (Site.languages; None: every
    shipped language). Before issue 13 every splash got PortalSettings' default, English."""
    assert site.portal_settings is not None
    languages = site.languages if site.languages is not None else PORTAL_LANGUAGES
    return PortalSettings.model_validate({**site.portal_settings, "languages": languages})


def load_catalogue(session: Session, short_links: ShortLinker | None = None) -> Catalogue:
    sites = session.scalars(select(m.Site)).all()
    feeds = session.scalars(select(Feed)).all()
    site_feeds: dict[str, set[str]] = {}
    for feed in feeds:
        if feed.site_id is not None:
            site_feeds.setdefault(feed.site_id, set()).add(feed.id)
    return Catalogue(
        sites={s.id: site_info(s) for s in sites},
        profiles={p.id: screen_profile(p) for p in session.scalars(select(m.ScreenProfile))},
        portals={s.id: portal_settings(s) for s in sites if s.portal_settings},
        feeds={feed.id: feed_ref(feed) for feed in feeds},
        site_feeds={site_id: frozenset(ids) for site_id, ids in site_feeds.items()},
        short_links=short_links,
    )


def load_devices(session: Session, ids: Iterable[str] | None = None) -> list[DeviceSpec]:
    query = select(m.Device).order_by(m.Device.id).options(selectinload(m.Device.site))
    members = select(DeviceGroupMember)
    if ids is not None:
        query = query.where(m.Device.id.in_(list(ids)))
        members = members.where(DeviceGroupMember.device_id.in_(list(ids)))
    groups: dict[str, set[str]] = {}
    for member in session.scalars(members):
        groups.setdefault(member.device_id, set()).add(member.group_id)
    channels = {row.group_id: row.channel for row in session.scalars(select(GroupChannel))}
    return [device_spec(d, groups.get(d.id, ()), channels) for d in session.scalars(query)]


def media_spec(
    media: m.MediaAsset, renditions: Iterable[m.Rendition], public_url: str
) -> MediaSpec:
    blob = media.blob

    def ref(sha: str, size: int, content_type: str) -> AssetRef:
        return AssetRef(
            sha256=sha, url=asset_url(public_url, sha), size_bytes=size, content_type=content_type
        )

    return MediaSpec(
        original=ref(blob.sha256, blob.size_bytes, blob.content_type),
        renditions={
            (r.profile_id, Fit(r.fit), r.turned): ref(r.sha256, r.size_bytes, r.blob.content_type)
            for r in renditions
        },
    )


def _shown(
    item: m.CampaignItem | PlaylistItem,
    item_id: str,
    media: MediaSpec | None,
    widget: Widget | None = None,
) -> ItemSpec:
    """What a campaign's item and a playlist's item both say about one thing on screen,
    labelled for staff's messages by the first name it has."""
    label = (
        item.alt_text
        or (item.text or {}).get("title", "")
        or (item.media.title if item.media else "")
        or (widget.title or widget.kind.value if widget else "")
    )
    return ItemSpec(
        id=item_id,
        kind=ItemKind(item.kind),
        duration_s=item.duration_s,
        fit=Fit(item.fit),
        media=media,
        text=TextSlide.model_validate(item.text) if item.text else None,
        alt_text=item.alt_text,
        label=str(label)[:80],
    )


def item_spec(item: m.CampaignItem, media: MediaSpec | None) -> ItemSpec:
    return replace(
        _shown(item, item.id, media),
        weight=item.weight,
        link_url=item.link_url,
        public_title=item.public_title,
        public_titles=dict(item.public_title_translations),
    )


def playlist_item_spec(
    campaign_id: str, zone: str, item: PlaylistItem, media: MediaSpec | None
) -> ItemSpec:
    """A playlist's item as one campaign plays it in one zone: its id is made from the
    three, so one playlist in two campaigns on one screen gives distinct items."""
    suffix = hashlib.sha256(f"{campaign_id} {zone} {item.id}".encode()).hexdigest()[:10]
    widget = Widget.model_validate(item.widget) if item.widget else None
    return replace(
        _shown(item, f"{campaign_id}-{suffix}", media, widget),
        zone=zone,
        widget=widget,
        valid_from=item.valid_from,
        valid_until=item.valid_until,
    )


def layouts_of(raw: Mapping[str, object]) -> dict[ProfileKind, LayoutTemplate]:
    return {ProfileKind(kind): LayoutTemplate(str(template)) for kind, template in raw.items()}


def campaign_spec(
    campaign: m.Campaign,
    media: Mapping[int, MediaSpec] | None = None,
    zones: Sequence[CampaignZone] = (),
) -> CampaignSpec:
    media = media or {}
    own = [
        replace(
            item_spec(i, media.get(i.media_id) if i.media_id is not None else None), zone=i.zone
        )
        for i in campaign.items
    ]
    listed = [
        playlist_item_spec(
            campaign.id, z.zone, i, media.get(i.media_id) if i.media_id is not None else None
        )
        for z in sorted(zones, key=lambda z: z.zone)
        for i in z.playlist.items
    ]
    return CampaignSpec(
        id=campaign.id,
        name=campaign.name,
        targets=targets_of(campaign.targets),
        items=(*own, *listed),
        layouts=layouts_of(campaign.layouts),
        schedules=tuple(Schedule.model_validate(s) for s in campaign.schedules),
        priority=campaign.priority,
        is_default=campaign.is_default,
        public_title=campaign.public_title,
        public_titles=dict(campaign.public_title_translations),
        share_s_per_hour=campaign.share_s_per_hour,
    )


def playing(session: Session) -> list[tuple[m.Campaign, list[CampaignZone]]]:
    """The campaigns that play, each with the zones it plays: the published ones' rows,
    and, while an edit awaits approval, the version approved before it."""
    published = session.scalars(
        select(m.Campaign)
        .where(m.Campaign.status == m.CampaignStatus.PUBLISHED)
        .options(selectinload(m.Campaign.items).selectinload(m.CampaignItem.media))
        .order_by(m.Campaign.id)
    ).all()
    versions = approved_versions.playing_versions(session)
    own_rows = [c.id for c in published] + [v.campaign.id for v in versions if v.zones is None]
    zones = campaign_zones(session, own_rows)
    return [(c, zones.get(c.id, [])) for c in published] + [
        (v.campaign, zones.get(v.campaign.id, []) if v.zones is None else v.zones) for v in versions
    ]


def load_published(session: Session, public_url: str) -> list[CampaignSpec]:
    campaigns = playing(session)
    media_ids = {i.media_id for c, _ in campaigns for i in c.items if i.media_id is not None}
    media_ids |= {
        i.media_id
        for _, zones in campaigns
        for z in zones
        for i in z.playlist.items
        if i.media_id is not None
    }
    media = load_media(session, media_ids, public_url)
    return [campaign_spec(c, media, zones) for c, zones in campaigns]


def campaign_zones(session: Session, campaign_ids: Sequence[str]) -> dict[str, list[CampaignZone]]:
    """The playlists each campaign plays, by campaign id, with their items loaded."""
    if not campaign_ids:
        return {}
    found: dict[str, list[CampaignZone]] = {}
    for zone in session.scalars(
        select(CampaignZone)
        .where(CampaignZone.campaign_id.in_(list(campaign_ids)))
        .options(
            selectinload(CampaignZone.playlist)
            .selectinload(Playlist.items)
            .selectinload(PlaylistItem.media)
        )
    ):
        found.setdefault(zone.campaign_id, []).append(zone)
    return found


def load_media(session: Session, media_ids: Iterable[int], public_url: str) -> dict[int, MediaSpec]:
    ids = list(set(media_ids))
    if not ids:
        return {}
    assets = session.scalars(select(m.MediaAsset).where(m.MediaAsset.id.in_(ids))).all()
    by_media: dict[int, list[m.Rendition]] = {}
    renditions = (
        select(m.Rendition)
        .where(m.Rendition.media_id.in_(ids))
        .options(selectinload(m.Rendition.blob), selectinload(m.Rendition.profile))
    )
    for rendition in session.scalars(renditions):
        by_media.setdefault(rendition.media_id, []).append(rendition)
    return {a.id: media_spec(a, by_media.get(a.id, []), public_url) for a in assets}
