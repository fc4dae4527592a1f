"""Screens where guaranteed airtime adds up to more than the hour: the warning staff see
on the campaign's page, when they submit it and when they approve it.

Two guarantees meet on a screen when both campaigns reach it, have the same priority
(a higher one takes the screen from both) and have schedules that can be open at the
same time. The screens then scale every guarantee down in proportion
(devices/share_of_voice.py); this says by how much, before it happens. Only signage
screens count: a Wi-Fi splash page has no hour of airtime to share.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from central_cms import models as m
from central_cms import share_of_voice, snapshot
from devices.protocol import DeviceKind, Schedule


@dataclass(frozen=True, slots=True)
class Collision:
    campaigns: tuple[tuple[str, int], ...]  # (staff's name, seconds an hour), the one checked first
    screens: tuple[str, ...]  # as staff named them

    @property
    def asked_s(self) -> int:
        return sum(seconds for _, seconds in self.campaigns)

    def message(self) -> str:
        scale = share_of_voice.HOUR_S / self.asked_s
        asked = ", ".join(f"{name} {_minutes(s)}" for name, s in self.campaigns)
        scaled = ", ".join(f"{name} {_minutes(round(s * scale))}" for name, s in self.campaigns)
        count = len(self.screens)
        where = f"{count} screen{'s' if count > 1 else ''} ({', '.join(self.screens)})"
        return (
            f"Guaranteed airtime adds up to {_minutes(self.asked_s)} an hour on {where}: "
            f"{asked}. Those screens scale each down in proportion, to {scaled}."
        )


def _minutes(seconds: int) -> str:
    whole, rest = divmod(seconds, 60)
    return f"{whole} min {rest} s" if rest else f"{whole} min"


def _guarantee(campaign: m.Campaign) -> int:
    assert campaign.share_s_per_hour is not None
    items = [share_of_voice.Share(i.id, i.duration_s, i.weight) for i in campaign.items]
    return share_of_voice.delivered_s(campaign.share_s_per_hour, items)


def collisions(session: Session, campaign: m.Campaign) -> list[Collision]:
    """Where `campaign`'s guarantee and published ones ask more than the hour together."""
    if campaign.share_s_per_hour is None or campaign.is_default:
        return []
    schedules = [Schedule.model_validate(s) for s in campaign.schedules]
    rivals = [
        other
        for other in session.scalars(
            select(m.Campaign)
            .where(
                m.Campaign.status == m.CampaignStatus.PUBLISHED,
                m.Campaign.share_s_per_hour.is_not(None),
                m.Campaign.is_default.is_(False),
                m.Campaign.priority == campaign.priority,
                m.Campaign.id != campaign.id,
            )
            .order_by(m.Campaign.name)
        )
        if share_of_voice.can_meet(schedules, [Schedule.model_validate(s) for s in other.schedules])
    ]
    if not rivals:
        return []
    targets = snapshot.targets_of(campaign.targets)
    rival_targets = [(rival, snapshot.targets_of(rival.targets)) for rival in rivals]
    found: dict[tuple[tuple[str, int], ...], list[str]] = {}
    for device in session.scalars(select(m.Device).order_by(m.Device.name, m.Device.id)):
        spec = snapshot.device_spec(device)
        if spec.kind is not DeviceKind.SIGNAGE or not targets.matches(spec):
            continue  # a Wi-Fi splash shows promotions, not a rotation of airtime
        meeting = [rival for rival, their in rival_targets if their.matches(spec)]
        together = (
            (campaign.name, _guarantee(campaign)),
            *((rival.name, _guarantee(rival)) for rival in meeting),
        )
        if sum(seconds for _, seconds in together) > share_of_voice.HOUR_S:
            found.setdefault(together, []).append(device.name or device.id)
    return [Collision(key, tuple(screens)) for key, screens in found.items()]


def warnings(session: Session, campaign: m.Campaign) -> list[str]:
    return [collision.message() for collision in collisions(session, campaign)]


def summary(campaign: m.Campaign) -> str | None:
    """'10 min an hour (16.7 %): 24 plays of “Swim poster” (10 s), ...' for the campaign page."""
    if campaign.share_s_per_hour is None:
        return None
    items = {i.id: i for i in campaign.items}
    shares = share_of_voice.split(
        campaign.share_s_per_hour,
        [share_of_voice.Share(i.id, i.duration_s, i.weight) for i in campaign.items],
    )
    plays = ", ".join(
        f"{round(seconds / items[item_id].duration_s)} plays of item {items[item_id].position + 1}"
        f" ({items[item_id].duration_s:g} s)"
        for item_id, seconds in shares.items()
    )
    delivered = sum(shares.values())
    asked = share_of_voice.describe(campaign.share_s_per_hour)
    if delivered != campaign.share_s_per_hour:
        return f"{asked}, played as {delivered} s in whole plays: {plays}"
    return f"{asked}: {plays}"
