"""The compiler's inputs: plain frozen values (no ORM objects, no clock, no I/O). Pure.

`snapshot` builds them from the database; the compiler, the rules and the benchmark take
them as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from central_cms.links import ShortLinker
from devices.protocol import (
    AssetRef,
    DeviceKind,
    DisplaySetup,
    Fit,
    ItemKind,
    PortalSettings,
    ProfileKind,
    Schedule,
    ScreenProfile,
    SiteInfo,
    TextSlide,
)
from devices.protocol.layouts import MAIN_ZONE, FeedRef, LayoutTemplate, Widget


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    id: str
    kind: DeviceKind
    site_id: str
    profile_id: str
    tags: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()  # the device groups (ids) it belongs to
    software_channel: str | None = None  # the release channel its groups follow (issue 18)
    display: DisplaySetup | None = None  # rotation and power schedule (issue 18)

    @property
    def turned(self) -> bool:
        """Mounted on its side: content is laid out on the profile's canvas turned."""
        return self.display is not None and self.display.rotation_deg in (90, 270)


@dataclass(frozen=True, slots=True)
class Targets:
    """Within one dimension any value matches; across dimensions all must; an empty
    dimension matches every device.

    `except_sites` is "every site but these" (the owner, for a cross-promotion), and
    `skip_profiles` the screen profiles whose rules the content breaks, left out when
    staff chose "skip screens that cannot show this" (campaigns.screens_unable)."""

    sites: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    kinds: frozenset[DeviceKind] = frozenset()
    profiles: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    except_sites: frozenset[str] = frozenset()
    skip_profiles: frozenset[str] = frozenset()

    @property
    def empty(self) -> bool:
        return not (
            self.sites
            or self.tags
            or self.kinds
            or self.profiles
            or self.groups
            or self.except_sites
        )

    def matches(self, device: DeviceSpec) -> bool:
        return (
            (not self.sites or device.site_id in self.sites)
            and device.site_id not in self.except_sites
            and (not self.profiles or device.profile_id in self.profiles)
            and device.profile_id not in self.skip_profiles
            and (not self.kinds or device.kind in self.kinds)
            and (not self.tags or not self.tags.isdisjoint(device.tags))
            and (not self.groups or not self.groups.isdisjoint(device.groups))
        )

    def index_keys(self) -> list[tuple[str, str]]:
        """The keys this campaign is filed under: its most selective dimension."""
        if self.groups:
            return [("group", g) for g in sorted(self.groups)]
        if self.sites:
            return [("site", s) for s in sorted(self.sites)]
        if self.profiles:
            return [("profile", p) for p in sorted(self.profiles)]
        if self.tags:
            return [("tag", t) for t in sorted(self.tags)]
        if self.kinds:
            return [("kind", k.value) for k in sorted(self.kinds)]
        return [("any", "")]


@dataclass(frozen=True, slots=True)
class MediaSpec:
    original: AssetRef
    # (screen profile id, fit, turned) -> the image made for that canvas; `turned`: for a
    # screen on its side, the profile's canvas turned portrait (issue 18)
    renditions: Mapping[tuple[str, Fit, bool], AssetRef] = field(default_factory=dict)

    def for_profile(self, profile_id: str, fit: Fit, *, turned: bool = False) -> AssetRef:
        return self.renditions.get((profile_id, fit, turned), self.original)


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
    zone: str = MAIN_ZONE  # the layout zone it plays in (zones.place_items)
    widget: Widget | None = None
    # A playlist item's validity (inclusive), on top of the campaign's schedules.
    valid_from: date | None = None
    valid_until: date | None = None


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
    # The layout per kind of screen; a site's default content sets its screens' layout.
    layouts: Mapping[ProfileKind, LayoutTemplate] = field(default_factory=dict)

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
    """Sites, screen profiles, portal settings and live feeds, by id."""

    sites: Mapping[str, SiteInfo]
    profiles: Mapping[str, ScreenProfile]
    portals: Mapping[str, PortalSettings] = field(default_factory=dict)
    feeds: Mapping[str, FeedRef] = field(default_factory=dict)
    # Site id -> the feeds it owns: its portal's "What's on" lists them, widgets or not.
    site_feeds: Mapping[str, frozenset[str]] = field(default_factory=dict)
    short_links: ShortLinker | None = None  # who makes promotions' tracked links
