"""The manifest compiler: campaigns + devices -> one manifest per device. Pure.

Inputs are plain frozen values (no ORM objects, no clock, no I/O), so the same code
compiles one device after an edit and 5,000 devices in the benchmark.

* Which campaigns reach a device is `targeting`'s (the campaign index); the inputs
  are `specs`; how zones combine on one screen is `zones`'.
* Content items are built once per (item, screen profile) and shared by every device
  with that profile; their canonical JSON is cached too, so the content hash of a
  manifest (which decides "unchanged, do not republish") costs one sha256 over cached
  bytes. The hash leaves out `version`, `generated_at` and `valid_until`.
* Only campaigns whose date range overlaps the manifest's life are included; the
  schedule windows travel with each item so the device decides what is on now.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from central_cms import share_of_voice
from central_cms.links import tracked_links
from central_cms.specs import (
    CampaignSpec,
    Catalogue,
    DeviceSpec,
    ItemSpec,
    MediaSpec,
    Targets,
)
from central_cms.targeting import CampaignIndex, affected_devices
from central_cms.zones import item_schedules, place_items, screen_template
from devices.protocol import (
    AssetRef,
    ContentItem,
    DeviceKind,
    DisplaySetup,
    ItemKind,
    Manifest,
    PortalSettings,
    ProfileKind,
    ScreenProfile,
    SiteInfo,
    canonical_json,
)
from devices.protocol.layouts import MAIN_ZONE, FeedRef, Layout, LayoutTemplate, build_layout

__all__ = [  # the compiler's inputs, importable from here as before the split
    "CampaignIndex",
    "CampaignSpec",
    "Catalogue",
    "DeviceSpec",
    "ItemSpec",
    "ManifestCompiler",
    "MediaSpec",
    "Targets",
    "affected_devices",
]

_Built = tuple[tuple[ItemSpec, ContentItem], ...]
_Layouts = tuple[tuple[tuple[int, str], LayoutTemplate | None], ...]


def public_title(campaign: CampaignSpec, item: ItemSpec) -> tuple[str, dict[str, str]]:
    """The item's public title and translations: its own if it has one, else the
    campaign's. A text slide's own title is already public wording, so it never takes
    the campaign's (every slide would get the same heading)."""
    if item.public_title:
        return item.public_title, dict(item.public_titles)
    if item.kind is ItemKind.TEXT or item.kind is ItemKind.WIDGET:
        return "", {}
    return campaign.public_title, dict(campaign.public_titles)


@dataclass(frozen=True, slots=True)
class _Block:
    campaign: CampaignSpec
    contents: tuple[ContentItem, ...]
    digest: bytes  # sha256 of the items' and assets' canonical JSON
    assets: tuple[AssetRef, ...]


@dataclass(frozen=True, slots=True)
class _Selection:
    items: tuple[ContentItem, ...]
    defaults: tuple[ContentItem, ...]
    item_parts: tuple[bytes, ...]
    default_parts: tuple[bytes, ...]
    assets: dict[str, AssetRef]
    campaign_ids: frozenset[str]
    # (sort key, layout for this screen kind) of each default campaign in it
    layouts: _Layouts = ()


_NOTHING = _Selection((), (), (), (), {}, frozenset())


def _joined(parts: Sequence[_Selection]) -> _Selection:
    return _Selection(
        tuple(i for p in parts for i in p.items),
        tuple(i for p in parts for i in p.defaults),
        tuple(d for p in parts for d in p.item_parts),
        tuple(d for p in parts for d in p.default_parts),
        {sha: a for p in parts for sha, a in p.assets.items()},
        frozenset().union(*(p.campaign_ids for p in parts)),
        tuple(pair for p in parts for pair in p.layouts),
    )


@dataclass(frozen=True, slots=True)
class _Placed:
    items: tuple[ContentItem, ...]
    defaults: tuple[ContentItem, ...]
    feeds: frozenset[str]  # the feeds their widgets show
    dropped: bool  # some item has no place on this screen


@dataclass(frozen=True, slots=True)
class _Class:
    site: SiteInfo
    profile: ScreenProfile
    portal: PortalSettings | None
    items: tuple[ContentItem, ...]
    defaults: tuple[ContentItem, ...]
    assets: tuple[AssetRef, ...]
    content_hash: str
    layout: Layout | None
    feeds: tuple[FeedRef, ...]
    display: DisplaySetup | None


@dataclass(frozen=True)
class CompiledManifest:
    manifest: Manifest  # with version 1 until the publisher assigns the real one
    content_hash: str

    def with_version(self, version: int) -> Manifest:
        return self.manifest.model_copy(update={"version": version})


class ManifestCompiler:
    """Compiles manifests; keeps caches of built items that are valid for its inputs.

    Make a new compiler when sites, profiles or media change; campaigns may be added
    to or removed from `index` between calls (items are cached by campaign content).
    """

    def __init__(self, catalogue: Catalogue, index: CampaignIndex) -> None:
        self.catalogue = catalogue
        self.index = index
        self._blocks: dict[tuple[str, str, bool], _Block] = {}
        self._bases: dict[str, tuple[CampaignSpec, _Built, bytes]] = {}
        # (site, profile, turned, kind, first day, last day) -> what untagged campaigns give;
        # `turned`: a screen on its side, laid out on its profile's canvas turned (issue 18)
        self._shared: dict[tuple[str, str, bool, str, date, date], _Selection] = {}
        self._per_tag: dict[tuple[str, str, bool, str, str, date, date], _Selection] = {}
        self._classes: dict[
            tuple[str, str, str, frozenset[str], frozenset[str], DisplaySetup | None, date, date],
            _Class,
        ] = {}
        self._layouts: dict[tuple[LayoutTemplate, str, bool], Layout] = {}
        self._placings: dict[
            tuple[int, LayoutTemplate | None, ProfileKind], tuple[_Selection, _Placed]
        ] = {}
        self._generation = index.generation
        self._json: dict[int, tuple[object, bytes]] = {}

    def _cached_json(
        self, value: SiteInfo | ScreenProfile | PortalSettings | AssetRef | FeedRef | DisplaySetup
    ) -> bytes:
        hit = self._json.get(id(value))
        if hit is not None and hit[0] is value:
            return hit[1]
        encoded = canonical_json(value.model_dump(mode="json", by_alias=True))
        self._json[id(value)] = (value, encoded)
        return encoded

    def _base(self, campaign: CampaignSpec) -> tuple[_Built, bytes]:
        """The campaign's items (with their original assets) that have a day to show on,
        each with its spec, and a digest of them."""
        hit = self._bases.get(campaign.id)
        if hit is not None and hit[0] is campaign:
            return hit[1], hit[2]
        built: list[tuple[ItemSpec, ContentItem]] = []
        shares = share_of_voice.item_shares(campaign)
        for item in campaign.items:
            schedules = item_schedules(campaign.schedules, item.valid_from, item.valid_until)
            if schedules is None:
                continue
            title, translations = public_title(campaign, item)
            content = ContentItem(
                id=item.id,
                campaign_id=None if campaign.is_default else campaign.id,
                campaign_name=campaign.name,
                public_title=title,
                public_titles=translations,
                kind=item.kind,
                asset=item.media.original.sha256 if item.media else None,
                text=item.text,
                alt_text=item.alt_text,
                duration_s=item.duration_s,
                weight=item.weight,
                priority=campaign.priority,
                fit=item.fit,
                schedules=schedules,
                link_url=item.link_url,
                share_s_per_hour=shares.get(item.id),
                zone=item.zone,
                widget=item.widget,
            )
            built.append((item, content))
        digest = hashlib.sha256(
            canonical_json([content.model_dump(mode="json") for _, content in built])
        ).digest()
        self._bases[campaign.id] = (campaign, tuple(built), digest)
        return tuple(built), digest

    def _block(self, campaign: CampaignSpec, profile_id: str, turned: bool) -> _Block:
        """The campaign's items as built for one screen profile, upright or turned (cached)."""
        key = (campaign.id, profile_id, turned)
        hit = self._blocks.get(key)
        if hit is not None and hit.campaign is campaign:
            return hit
        built, base_digest = self._base(campaign)
        contents: list[ContentItem] = []
        assets: list[AssetRef] = []
        digest = hashlib.sha256(base_digest)
        for spec, base in built:
            if spec.media is None:
                contents.append(base)
                continue
            # Renditions fill the whole canvas; in a smaller zone the player fits the original.
            asset = (
                spec.media.for_profile(profile_id, spec.fit, turned=turned)
                if spec.zone == MAIN_ZONE
                else spec.media.original
            )
            assets.append(asset)
            contents.append(
                base
                if asset.sha256 == base.asset
                else base.model_copy(update={"asset": asset.sha256})
            )
            digest.update(
                f"{asset.sha256} {asset.size_bytes} {asset.content_type} {asset.url}\n".encode()
            )
        block = _Block(campaign, tuple(contents), digest.digest(), tuple(assets))
        self._blocks[key] = block
        return block

    def _select(
        self,
        campaigns: Iterable[CampaignSpec],
        profile_id: str,
        turned: bool,
        first: date,
        last: date,
    ) -> _Selection:
        items: list[ContentItem] = []
        defaults: list[ContentItem] = []
        item_parts: list[bytes] = []
        default_parts: list[bytes] = []
        assets: dict[str, AssetRef] = {}
        ids: list[str] = []
        layouts: list[tuple[tuple[int, str], LayoutTemplate | None]] = []
        kind = self.catalogue.profiles[profile_id].kind
        for campaign in campaigns:
            if not campaign.overlaps(first, last):
                continue
            ids.append(campaign.id)
            block = self._block(campaign, profile_id, turned)
            if campaign.is_default:
                defaults.extend(block.contents)
                default_parts.append(block.digest)
                layouts.append((campaign.sort_key, campaign.layouts.get(kind)))
            else:
                items.extend(block.contents)
                item_parts.append(block.digest)
            for asset in block.assets:
                assets[asset.sha256] = asset
        return _Selection(
            tuple(items),
            tuple(defaults),
            tuple(item_parts),
            tuple(default_parts),
            assets,
            frozenset(ids),
            tuple(layouts),
        )

    def _tagged(self, device: DeviceSpec, first: date, last: date) -> _Selection:
        """Tagged campaigns, per tag (shared by every device with that tag at the site),
        joined; re-selected as a whole only if one campaign came through two tags."""
        per_tag: list[_Selection] = []
        for tag in sorted(device.tags):
            turned = device.turned
            key = (device.site_id, device.profile_id, turned, device.kind.value, tag, first, last)
            found = self._per_tag.get(key)
            if found is None:
                probe = DeviceSpec(
                    "", device.kind, device.site_id, device.profile_id, frozenset({tag})
                )
                found = self._per_tag[key] = self._select(
                    self.index.tagged_candidates(probe), device.profile_id, turned, first, last
                )
            per_tag.append(found)
        if not per_tag:
            return _NOTHING
        if len(per_tag) == 1:
            return per_tag[0]
        total = sum(len(p.campaign_ids) for p in per_tag)
        if len(frozenset().union(*(p.campaign_ids for p in per_tag))) != total:
            return self._select(
                self.index.tagged_candidates(device), device.profile_id, device.turned, first, last
            )
        return _joined(per_tag)

    def _selection(self, device: DeviceSpec, first: date, last: date) -> _Class:
        """What a device shows depends on its site, profile, kind, tags and groups only,
        so devices alike in those share one selection (and one content hash)."""
        if self._generation != self.index.generation:
            self._shared.clear()
            self._per_tag.clear()
            self._classes.clear()
            self._placings.clear()
            self._generation = self.index.generation
        class_key = (
            device.site_id,
            device.profile_id,
            device.kind.value,
            device.tags,
            device.groups,
            device.display,
            first,
            last,
        )
        found = self._classes.get(class_key)
        if found is not None:
            return found
        turned = device.turned
        shared_key = (device.site_id, device.profile_id, turned, device.kind.value, first, last)
        shared = self._shared.get(shared_key)
        if shared is None:
            campaigns = self.index.untagged_candidates(device)
            shared = self._shared[shared_key] = self._select(
                campaigns, device.profile_id, turned, first, last
            )
        tagged = self._tagged(device, first, last)
        grouped = _NOTHING
        if device.groups:
            grouped = self._select(
                self.index.grouped_candidates(device), device.profile_id, turned, first, last
            )
        assets = {**shared.assets, **tagged.assets, **grouped.assets}
        site = self.catalogue.sites[device.site_id]
        profile = self.catalogue.profiles[device.profile_id]
        portal = (
            self.catalogue.portals.get(device.site_id) if device.kind is DeviceKind.PORTAL else None
        )
        template = screen_template(
            profile.kind, (*shared.layouts, *tagged.layouts, *grouped.layouts)
        )
        placed = [self._placed(p, template, profile.kind) for p in (shared, tagged, grouped)]
        items = tuple(i for p in placed for i in p.items)
        defaults = tuple(i for p in placed for i in p.defaults)
        wanted = frozenset().union(*(p.feeds for p in placed))
        if device.kind is DeviceKind.PORTAL:  # the splash's "What's on" lists the site's
            wanted |= self.catalogue.site_feeds.get(device.site_id, frozenset())
        feeds = {f: self.catalogue.feeds[f] for f in wanted if f in self.catalogue.feeds}
        dropped = any(p.dropped for p in placed)
        if len(feeds) < len(wanted):  # a widget's feed was deleted: leave the widget out
            items, defaults = _with_feeds(items, feeds), _with_feeds(defaults, feeds)
            dropped = True
        if dropped:
            used = {i.asset for i in (*items, *defaults)}
            assets = {sha: a for sha, a in assets.items() if sha in used}
        parts = [
            self._cached_json(site),
            self._cached_json(profile),
            self._cached_json(portal) if portal else b"-",
            *shared.item_parts,
            b"|tagged",
            *tagged.item_parts,
            b"|grouped",
            *grouped.item_parts,
            b"|defaults",
            *shared.default_parts,
            b"|tagged",
            *tagged.default_parts,
            b"|grouped",
            *grouped.default_parts,
        ]
        if template is not None or feeds:
            feed_parts = [self._cached_json(ref) for _, ref in sorted(feeds.items())]
            parts += [f"|layout {template}".encode(), *feed_parts]
        if device.display is not None:
            parts += [b"|display", self._cached_json(device.display)]
        found = _Class(
            site=site,
            profile=profile,
            portal=portal,
            items=items,
            defaults=defaults,
            assets=tuple(assets[sha] for sha in sorted(assets)),
            content_hash=hashlib.sha256(b"\n".join(parts)).hexdigest(),
            layout=self._layout(template, device.profile_id, profile, turned),
            feeds=tuple(feeds[f] for f in sorted(feeds)),
            display=device.display,
        )
        self._classes[class_key] = found
        return found

    def _layout(
        self,
        template: LayoutTemplate | None,
        profile_id: str,
        profile: ScreenProfile,
        turned: bool,
    ) -> Layout | None:
        """The template's zones on the canvas: the profile's, or portrait for a landscape
        panel on its side (a portrait screen lays its zones out on its portrait canvas)."""
        if template is None:
            return None
        key = (template, profile_id, turned)
        if key not in self._layouts:
            width, height = profile.width_px, profile.height_px
            if turned:
                width, height = height, width
            self._layouts[key] = build_layout(template, width, height)
        return self._layouts[key]

    def _placed(
        self, selection: _Selection, template: LayoutTemplate | None, kind: ProfileKind
    ) -> _Placed:
        """`selection`'s items placed in the zones of `template` (zones.place_items),
        cached with the selection, which is itself shared by many devices."""
        key = (id(selection), template, kind)
        hit = self._placings.get(key)
        if hit is not None and hit[0] is selection:
            return hit[1]
        items = place_items(selection.items, template, kind)
        defaults = place_items(selection.defaults, template, kind)
        feeds = frozenset(
            i.widget.feed for i in (*items, *defaults) if i.widget is not None and i.widget.feed
        )
        dropped = len(items) + len(defaults) != len(selection.items) + len(selection.defaults)
        placed = _Placed(items, defaults, feeds, dropped)
        self._placings[key] = (selection, placed)
        return placed

    def compile(
        self, device: DeviceSpec, *, generated_at: datetime, valid_until: datetime
    ) -> CompiledManifest:
        first = (generated_at - timedelta(days=1)).date()
        last = (valid_until + timedelta(days=1)).date()
        chosen = self._selection(device, first, last)
        # Every part was validated when it was built and assets are collected from the
        # items themselves, so the whole needs no second validation pass (speed: 5,000
        # manifests of ~100 items each). Tests check the output validates.
        manifest = Manifest.model_construct(
            device_id=device.id,
            version=1,
            generated_at=generated_at,
            valid_until=valid_until,
            site=chosen.site,
            profile=chosen.profile,
            assets=chosen.assets,
            items=chosen.items,
            default_items=chosen.defaults,
            portal=chosen.portal,
            layout=chosen.layout,
            feeds=chosen.feeds,
            display=chosen.display,
            software_channel=device.software_channel,
        )
        content_hash = chosen.content_hash
        if device.software_channel is not None:  # a group's new channel is a new manifest
            content_hash = hashlib.sha256(
                f"{content_hash}|channel {device.software_channel}".encode()
            ).hexdigest()
        return CompiledManifest(*tracked_links(self.catalogue.short_links, manifest, content_hash))

    def compile_many(
        self, devices: Sequence[DeviceSpec], *, generated_at: datetime, valid_until: datetime
    ) -> dict[str, CompiledManifest]:
        return {
            d.id: self.compile(d, generated_at=generated_at, valid_until=valid_until)
            for d in devices
        }


def _with_feeds(
    items: tuple[ContentItem, ...], feeds: dict[str, FeedRef]
) -> tuple[ContentItem, ...]:
    """`items` without the widgets whose feed is not in `feeds`."""
    return tuple(i for i in items if i.widget is None or i.widget.feed in (None, *feeds))
