"""Which campaigns reach which device: the campaign index. Pure.

Campaigns are indexed by their most selective target dimension (groups, sites, then
profiles, then tags, then kinds), so compiling a device looks only at the campaigns
that could possibly target it, not at every campaign.
"""

from __future__ import annotations

from collections.abc import Iterable
from operator import attrgetter

from central_cms.specs import CampaignSpec, DeviceSpec, Targets

_SORT_KEY = attrgetter("sort_key")
_Buckets = dict[tuple[str, str], dict[str, CampaignSpec]]


def device_keys(device: DeviceSpec) -> list[tuple[str, str]]:
    return [
        ("any", ""),
        ("site", device.site_id),
        ("profile", device.profile_id),
        ("kind", device.kind.value),
        *(("tag", tag) for tag in device.tags),
        *(("group", group) for group in device.groups),
    ]


def affected_devices(devices: Iterable[DeviceSpec], *targets: Targets) -> list[DeviceSpec]:
    """The devices any of `targets` reaches: what an edit must recompile."""
    return [d for d in devices if any(t.matches(d) for t in targets)]


class CampaignIndex:
    """Published campaigns filed by target, for `candidates(device)`.

    Campaigns without tag or group targets are kept apart: what such a campaign reaches
    depends only on a device's site, profile and kind, so the compiler can share that
    part between all devices alike in those three. Tagged campaigns are shared per tag;
    campaigns for device groups are looked up with the whole device.
    """

    def __init__(self, campaigns: Iterable[CampaignSpec] = ()) -> None:
        self._untagged: _Buckets = {}
        self._tagged: _Buckets = {}
        self._grouped: _Buckets = {}
        self._campaigns: dict[str, CampaignSpec] = {}
        self.generation = 0  # changes whenever a campaign is put or removed
        for campaign in campaigns:
            self.put(campaign)

    def __len__(self) -> int:
        return len(self._campaigns)

    def get(self, campaign_id: str) -> CampaignSpec | None:
        return self._campaigns.get(campaign_id)

    def _map(self, campaign: CampaignSpec) -> _Buckets:
        if campaign.targets.groups:
            return self._grouped
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

    @staticmethod
    def _lookup(
        by_key: _Buckets, keys: Iterable[tuple[str, str]], device: DeviceSpec
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
        """Campaigns with no tag or group target that reach `device`."""
        return self._lookup(self._untagged, device_keys(device)[:4], device)

    def tagged_candidates(self, device: DeviceSpec) -> list[CampaignSpec]:
        return self._lookup(self._tagged, device_keys(device), device)

    def grouped_candidates(self, device: DeviceSpec) -> list[CampaignSpec]:
        if not device.groups or not self._grouped:
            return []
        return self._lookup(self._grouped, [("group", g) for g in device.groups], device)

    def candidates(self, device: DeviceSpec) -> list[CampaignSpec]:
        """Every campaign that targets `device`, highest priority first, then by id."""
        every = (
            self.untagged_candidates(device)
            + self.tagged_candidates(device)
            + self.grouped_candidates(device)
        )
        every.sort(key=_SORT_KEY)
        return every
