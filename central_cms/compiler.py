"""The manifest compiler: campaigns + devices -> one manifest per device. Pure.

Inputs are plain frozen values (no ORM objects, no clock, no I/O), so the same code
compiles one device after an edit and 5,000 devices in the benchmark.

* Campaigns are indexed by their most selective target dimension (sites, then
  profiles, then tags, then kinds), so compiling a device looks only at the campaigns
  that could possibly target it, not at every campaign.
* Content items are built once per (item, screen profile) and shared by every device
  with that profile; their canonical JSON is cached too, so the content hash of a
  manifest (which decides "unchanged, do not republish") costs one sha256 over cached
  bytes. The hash leaves out `version`, `generated_at` and `valid_until`.
* Only campaigns whose date range overlaps the manifest's life are included; the
  schedule windows travel with each item so the device decides what is on now.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from operator import attrgetter

from central_cms import share_of_voice
from devices.protocol import (
    AssetRef,
    ContentItem,
    DeviceKind,
    Fit,
    ItemKind,
    Manifest,
    PortalSettings,
    Schedule,
    ScreenProfile,
    SiteInfo,
    TextSlide,
    canonical_json,
)


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    id: str
    kind: DeviceKind
    site_id: str
    profile_id: str
    tags: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Targets:
    """Within one dimension any value matches; across dimensions all must; an empty
    dimension matches every device."""

    sites: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    kinds: frozenset[DeviceKind] = frozenset()
    profiles: frozenset[str] = frozenset()

    @property
    def empty(self) -> bool:
        return not (self.sites or self.tags or self.kinds or self.profiles)

    def matches(self, device: DeviceSpec) -> bool:
        return (
            (not self.sites or device.site_id in self.sites)
            and (not self.profiles or device.profile_id in self.profiles)
            and (not self.kinds or device.kind in self.kinds)
            and (not self.tags or not self.tags.isdisjoint(device.tags))
        )

    def index_keys(self) -> list[tuple[str, str]]:
        """The keys this campaign is filed under: its most selective dimension."""
        if self.sites:
            return [("site", s) for s in sorted(self.sites)]
        if self.profiles:
            return [("profile", p) for p in sorted(self.profiles)]
        if self.tags:
            return [("tag", t) for t in sorted(self.tags)]
        if self.kinds:
            return [("kind", k.value) for k in sorted(self.kinds)]
        return [("any", "")]


def device_keys(device: DeviceSpec) -> list[tuple[str, str]]:
    return [
        ("any", ""),
        ("site", device.site_id),
        ("profile", device.profile_id),
        ("kind", device.kind.value),
        *(("tag", tag) for tag in device.tags),
    ]


@dataclass(frozen=True, slots=True)
class MediaSpec:
    original: AssetRef
    # (screen profile id, fit) -> the image made for that canvas
    renditions: Mapping[tuple[str, Fit], AssetRef] = field(default_factory=dict)

    def for_profile(self, profile_id: str, fit: Fit) -> AssetRef:
        return self.renditions.get((profile_id, fit), self.original)


@dataclass(frozen=True, slots=True)
class ItemSpec:
    id: str
    kind: ItemKind
    duration_s: float
    weight: int = 1
    fit: Fit = Fit.FIT
    media: MediaSpec | None = None
    text: TextSlide | None = None
    alt_text: str = ""
    link_url: str | None = None
    label: str = ""  # what staff call it ("Swim school poster"), for messages
    # Its own public title (and translations by language); "" falls back to the campaign's.
    public_title: str = ""
    public_titles: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CampaignSpec:
    id: str
    name: str  # staff's name: it travels as `campaign_name`, which the public never sees
    targets: Targets
    items: tuple[ItemSpec, ...]
    schedules: tuple[Schedule, ...] = ()
    priority: int = 50
    is_default: bool = False
    public_title: str = ""
    public_titles: Mapping[str, str] = field(default_factory=dict)
    share_s_per_hour: int | None = None  # guaranteed airtime (central_cms/share_of_voice.py)

    first_day: date | None = field(init=False, compare=False)
    last_day: date | None = field(init=False, compare=False)
    sort_key: tuple[int, str] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        starts = [s.starts_on for s in self.schedules]
        ends = [s.ends_on for s in self.schedules]
        bounded_start = bool(starts) and None not in starts
        bounded_end = bool(ends) and None not in ends
        object.__setattr__(self, "first_day", min(starts) if bounded_start else None)  # type: ignore[type-var]
        object.__setattr__(self, "last_day", max(ends) if bounded_end else None)  # type: ignore[type-var]
        object.__setattr__(self, "sort_key", (-self.priority, self.id))

    def overlaps(self, first: date, last: date) -> bool:
        start, end = self.first_day, self.last_day
        return (start is None or start <= last) and (end is None or end >= first)


@dataclass(frozen=True)
class Catalogue:
    """Sites, screen profiles and portal settings, by id."""

    sites: Mapping[str, SiteInfo]
    profiles: Mapping[str, ScreenProfile]
    portals: Mapping[str, PortalSettings] = field(default_factory=dict)


class CampaignIndex:
    """Published campaigns filed by target, for `candidates(device)`.

    Campaigns without tag targets are kept apart from tagged ones: what an untagged
    campaign reaches depends only on a device's site, profile and kind, so the compiler
    can share that part between all devices alike in those three.
    """

    def __init__(self, campaigns: Iterable[CampaignSpec] = ()) -> None:
        self._untagged: dict[tuple[str, str], dict[str, CampaignSpec]] = {}
        self._tagged: dict[tuple[str, str], dict[str, CampaignSpec]] = {}
        self._campaigns: dict[str, CampaignSpec] = {}
        self.generation = 0  # changes whenever a campaign is put or removed
        for campaign in campaigns:
            self.put(campaign)

    def __len__(self) -> int:
        return len(self._campaigns)

    def get(self, campaign_id: str) -> CampaignSpec | None:
        return self._campaigns.get(campaign_id)

    def _map(self, campaign: CampaignSpec) -> dict[tuple[str, str], dict[str, CampaignSpec]]:
        return self._tagged if campaign.targets.tags else self._untagged

    def put(self, campaign: CampaignSpec) -> None:
        self.remove(campaign.id)
        self._campaigns[campaign.id] = campaign
        by_key = self._map(campaign)
        for key in campaign.targets.index_keys():
            by_key.setdefault(key, {})[campaign.id] = campaign
        self.generation += 1

    def remove(self, campaign_id: str) -> None:
        old = self._campaigns.pop(campaign_id, None)
        if old is not None:
            by_key = self._map(old)
            for key in old.targets.index_keys():
                by_key.get(key, {}).pop(campaign_id, None)
            self.generation += 1

    def _lookup(
        self,
        by_key: dict[tuple[str, str], dict[str, CampaignSpec]],
        keys: Iterable[tuple[str, str]],
        device: DeviceSpec,
    ) -> list[CampaignSpec]:
        found: dict[str, CampaignSpec] = {}
        for key in keys:
            bucket = by_key.get(key)
            if bucket:
                found.update(bucket)
        matching = [c for c in found.values() if c.targets.matches(device)]
        matching.sort(key=_SORT_KEY)
        return matching

    def untagged_candidates(self, device: DeviceSpec) -> list[CampaignSpec]:
        """Campaigns with no tag target that reach `device` (its tags do not matter)."""
        return self._lookup(self._untagged, device_keys(device)[:4], device)

    def tagged_candidates(self, device: DeviceSpec) -> list[CampaignSpec]:
        return self._lookup(self._tagged, device_keys(device), device)

    def candidates(self, device: DeviceSpec) -> list[CampaignSpec]:
        """Every campaign that targets `device`, highest priority first, then by id."""
        both = self.untagged_candidates(device) + self.tagged_candidates(device)
        both.sort(key=_SORT_KEY)
        return both


_SORT_KEY = attrgetter("sort_key")


def public_title(campaign: CampaignSpec, item: ItemSpec) -> tuple[str, dict[str, str]]:
    """The item's public title and translations: its own if it has one, else the
    campaign's. A text slide's own title is already public wording, so it never takes
    the campaign's (every slide would get the same heading)."""
    if item.public_title:
        return item.public_title, dict(item.public_titles)
    if item.kind is ItemKind.TEXT:
        return "", {}
    return campaign.public_title, dict(campaign.public_titles)


def affected_devices(devices: Iterable[DeviceSpec], *targets: Targets) -> list[DeviceSpec]:
    """The devices any of `targets` reaches: what an edit must recompile."""
    return [d for d in devices if any(t.matches(d) for t in targets)]


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


_NOTHING = _Selection((), (), (), (), {}, frozenset())


@dataclass(frozen=True, slots=True)
class _Class:
    site: SiteInfo
    profile: ScreenProfile
    portal: PortalSettings | None
    items: tuple[ContentItem, ...]
    defaults: tuple[ContentItem, ...]
    assets: tuple[AssetRef, ...]
    content_hash: str


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
        self._blocks: dict[tuple[str, str], _Block] = {}
        self._bases: dict[str, tuple[CampaignSpec, tuple[ContentItem, ...], bytes]] = {}
        # (site, profile, kind, first day, last day) -> what untagged campaigns give
        self._shared: dict[tuple[str, str, str, date, date], _Selection] = {}
        self._per_tag: dict[tuple[str, str, str, str, date, date], _Selection] = {}
        self._classes: dict[tuple[str, str, str, frozenset[str], date, date], _Class] = {}
        self._generation = index.generation
        self._json: dict[int, tuple[object, bytes]] = {}

    def _cached_json(self, value: SiteInfo | ScreenProfile | PortalSettings | AssetRef) -> bytes:
        hit = self._json.get(id(value))
        if hit is not None and hit[0] is value:
            return hit[1]
        encoded = canonical_json(value.model_dump(mode="json", by_alias=True))
        self._json[id(value)] = (value, encoded)
        return encoded

    def _base(self, campaign: CampaignSpec) -> tuple[tuple[ContentItem, ...], bytes]:
        """The campaign's items with their original assets, and a digest of them."""
        hit = self._bases.get(campaign.id)
        if hit is not None and hit[0] is campaign:
            return hit[1], hit[2]
        titles = [public_title(campaign, item) for item in campaign.items]
        shares = share_of_voice.item_shares(campaign)
        items = tuple(
            ContentItem(
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
                schedules=campaign.schedules,
                link_url=item.link_url,
                share_s_per_hour=shares.get(item.id),
            )
            for item, (title, translations) in zip(campaign.items, titles, strict=True)
        )
        digest = hashlib.sha256(
            canonical_json([item.model_dump(mode="json") for item in items])
        ).digest()
        self._bases[campaign.id] = (campaign, items, digest)
        return items, digest

    def _block(self, campaign: CampaignSpec, profile_id: str) -> _Block:
        """The campaign's items as built for one screen profile (cached)."""
        key = (campaign.id, profile_id)
        hit = self._blocks.get(key)
        if hit is not None and hit.campaign is campaign:
            return hit
        base_items, base_digest = self._base(campaign)
        contents: list[ContentItem] = []
        assets: list[AssetRef] = []
        digest = hashlib.sha256(base_digest)
        for spec, base in zip(campaign.items, base_items, strict=True):
            if spec.media is None:
                contents.append(base)
                continue
            asset = spec.media.for_profile(profile_id, spec.fit)
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
        self, campaigns: Iterable[CampaignSpec], profile_id: str, first: date, last: date
    ) -> _Selection:
        items: list[ContentItem] = []
        defaults: list[ContentItem] = []
        item_parts: list[bytes] = []
        default_parts: list[bytes] = []
        assets: dict[str, AssetRef] = {}
        ids: list[str] = []
        for campaign in campaigns:
            if not campaign.overlaps(first, last):
                continue
            ids.append(campaign.id)
            block = self._block(campaign, profile_id)
            if campaign.is_default:
                defaults.extend(block.contents)
                default_parts.append(block.digest)
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
        )

    def _tagged(self, device: DeviceSpec, first: date, last: date) -> _Selection:
        """Tagged campaigns, per tag (shared by every device with that tag at the site),
        joined; re-selected as a whole only if one campaign came through two tags."""
        per_tag: list[_Selection] = []
        for tag in sorted(device.tags):
            key = (device.site_id, device.profile_id, device.kind.value, tag, first, last)
            found = self._per_tag.get(key)
            if found is None:
                probe = DeviceSpec(
                    "", device.kind, device.site_id, device.profile_id, frozenset({tag})
                )
                found = self._per_tag[key] = self._select(
                    self.index.tagged_candidates(probe), device.profile_id, first, last
                )
            per_tag.append(found)
        if not per_tag:
            return _NOTHING
        if len(per_tag) == 1:
            return per_tag[0]
        total = sum(len(p.campaign_ids) for p in per_tag)
        if len(frozenset().union(*(p.campaign_ids for p in per_tag))) != total:
            return self._select(
                self.index.tagged_candidates(device), device.profile_id, first, last
            )
        return _Selection(
            tuple(i for p in per_tag for i in p.items),
            tuple(i for p in per_tag for i in p.defaults),
            tuple(d for p in per_tag for d in p.item_parts),
            tuple(d for p in per_tag for d in p.default_parts),
            {sha: a for p in per_tag for sha, a in p.assets.items()},
            frozenset().union(*(p.campaign_ids for p in per_tag)),
        )

    def _selection(self, device: DeviceSpec, first: date, last: date) -> _Class:
        """What a device shows depends on its site, profile, kind and tags only, so
        devices alike in those four share one selection (and one content hash)."""
        if self._generation != self.index.generation:
            self._shared.clear()
            self._per_tag.clear()
            self._classes.clear()
            self._generation = self.index.generation
        class_key = (device.site_id, device.profile_id, device.kind.value, device.tags, first, last)
        found = self._classes.get(class_key)
        if found is not None:
            return found
        shared_key = (*class_key[:3], first, last)
        shared = self._shared.get(shared_key)
        if shared is None:
            campaigns = self.index.untagged_candidates(device)
            shared = self._shared[shared_key] = self._select(
                campaigns, device.profile_id, first, last
            )
        tagged = self._tagged(device, first, last)
        assets = {**shared.assets, **tagged.assets}
        site = self.catalogue.sites[device.site_id]
        profile = self.catalogue.profiles[device.profile_id]
        portal = (
            self.catalogue.portals.get(device.site_id) if device.kind is DeviceKind.PORTAL else None
        )
        parts = [
            self._cached_json(site),
            self._cached_json(profile),
            self._cached_json(portal) if portal else b"-",
            *shared.item_parts,
            b"|tagged",
            *tagged.item_parts,
            b"|defaults",
            *shared.default_parts,
            b"|tagged",
            *tagged.default_parts,
        ]
        found = _Class(
            site=site,
            profile=profile,
            portal=portal,
            items=shared.items + tagged.items,
            defaults=shared.defaults + tagged.defaults,
            assets=tuple(assets[sha] for sha in sorted(assets)),
            content_hash=hashlib.sha256(b"\n".join(parts)).hexdigest(),
        )
        self._classes[class_key] = found
        return found

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
        )
        return CompiledManifest(manifest, chosen.content_hash)

    def compile_many(
        self, devices: Sequence[DeviceSpec], *, generated_at: datetime, valid_until: datetime
    ) -> dict[str, CompiledManifest]:
        return {
            d.id: self.compile(d, generated_at=generated_at, valid_until=valid_until)
            for d in devices
        }
