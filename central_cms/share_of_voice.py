"""Share of voice in the CMS: a campaign's guaranteed airtime, from the form to the items.

Staff give it as seconds per hour or as a percentage of the hour; it is stored as whole
seconds per hour (a percentage against 3600). The compiler shares it out among the
campaign's items as `ContentItem.share_s_per_hour`, in proportion to each item's
weight x duration and in whole plays, so what the screen plays is what staff were told:
`delivered_s` is the sum of those plays, shown beside the field.

Over-subscription (campaigns on one screen, at one priority and with schedules that can
be open together, guaranteeing more than the hour): the CMS does not refuse it, since
each campaign may be fine on its own and they meet only on some screens. It warns the
submitter and the approver, naming the campaigns and the screens; the screens scale
every guarantee down in proportion (devices/share_of_voice.py). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from central_cms.errors import Invalid
from devices.protocol import Schedule, Weekday

if TYPE_CHECKING:  # the compiler imports this module
    from central_cms.compiler import CampaignSpec

FIELD = "share_s_per_hour"
HOUR_S = 3600
UNITS = (("s", "seconds per hour"), ("percent", "% of each hour"))
_WEEK_MIN = 7 * 24 * 60
_WEEKDAYS = tuple(Weekday)


@dataclass(frozen=True, slots=True)
class Share:
    """One item as the split sees it."""

    item_id: str
    duration_s: float
    weight: int = 1


def parse(amount: str, unit: str) -> int | None:
    """The form's amount and unit as seconds per hour; None when left empty."""
    text = amount.strip().replace(",", ".").rstrip("%s ").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise Invalid(
            FIELD, "Guaranteed airtime: give a number, like 600 seconds or 15 %."
        ) from None
    if unit == "percent":
        if not 0 < value <= 100:
            raise Invalid(FIELD, "Guaranteed airtime: a percentage of the hour is from 1 to 100.")
        return max(1, round(value * HOUR_S / 100))
    if not 1 <= value <= HOUR_S:
        raise Invalid(FIELD, "Guaranteed airtime: from 1 to 3600 seconds in each hour.")
    return round(value)


def split(share_s: int, items: Sequence[Share]) -> dict[str, int]:
    """Each item's seconds per hour: whole plays, by weight x duration, as close to
    `share_s` in total as whole plays allow (largest remainders get the spare plays)."""
    work = sum(item.weight * item.duration_s for item in items)
    if not items or work <= 0:
        return {}
    ideal = {item.item_id: share_s * item.weight / work for item in items}  # in plays
    plays = {key: int(value) for key, value in ideal.items()}
    total = sum(plays[item.item_id] * item.duration_s for item in items)
    for item in sorted(items, key=lambda i: ideal[i.item_id] - plays[i.item_id], reverse=True):
        if total + item.duration_s / 2 <= share_s:
            plays[item.item_id] += 1
            total += item.duration_s
    return {
        item.item_id: round(plays[item.item_id] * item.duration_s)
        for item in items
        if plays[item.item_id] > 0
    }


def item_shares(campaign: CampaignSpec) -> dict[str, int]:
    """The campaign's guaranteed airtime shared out among its items, by item id: what
    the compiler puts in each item's `share_s_per_hour`."""
    if campaign.share_s_per_hour is None or campaign.is_default:
        return {}
    items = [Share(i.id, i.duration_s, i.weight) for i in campaign.items]
    return split(campaign.share_s_per_hour, items)


def delivered_s(share_s: int, items: Sequence[Share]) -> int:
    """What the screens play of `share_s` each fully scheduled hour."""
    return sum(split(share_s, items).values())


def check(share_s: int | None, items: Sequence[Share], *, is_default: bool) -> None:
    """Refuses a guarantee the screens could not honour, beside the field."""
    if share_s is None:
        return
    if is_default:
        raise Invalid(
            FIELD,
            "Guaranteed airtime: default content fills the time nobody else has, so it "
            "cannot be guaranteed any. Untick “Default content” or leave this empty.",
        )
    if not 1 <= share_s <= HOUR_S:
        raise Invalid(FIELD, "Guaranteed airtime: from 1 to 3600 seconds in each hour.")
    shortest = min((item.duration_s for item in items), default=0)
    if items and delivered_s(share_s, items) == 0:
        raise Invalid(
            FIELD,
            f"Guaranteed airtime: {share_s} s is less than one play of the shortest item "
            f"({shortest:g} s); give at least {shortest:g} s.",
        )


def describe(share_s: int) -> str:
    """'600 s an hour (16.7 %)' for staff."""
    minutes = f"{share_s // 60} min {share_s % 60} s" if share_s >= 60 else f"{share_s} s"
    return f"{minutes.removesuffix(' 0 s')} an hour ({share_s * 100 / HOUR_S:.3g} %)"


# --- which guarantees can meet on a screen ---------------------------------------------------


def _week_minutes(schedule: Schedule) -> int:
    """The minutes of a week (Monday 00:00 = bit 0) the schedule can be open, as a bitmask."""
    days = schedule.days or _WEEKDAYS
    windows = [(w.start, w.end) for w in schedule.windows]
    mask = 0
    for day in days:
        base = _WEEKDAYS.index(day) * 24 * 60
        if not windows:
            mask |= ((1 << 1440) - 1) << base
            continue
        for start, end in windows:
            first = start.hour * 60 + start.minute
            last = end.hour * 60 + end.minute + (1 if end.second or end.microsecond else 0)
            length = last - first if last > first else last - first + 1440
            begin = base + first
            mask |= ((1 << length) - 1) << begin
    # An overnight window on Sunday runs into Monday: fold the spill back to the start.
    return (mask & ((1 << _WEEK_MIN) - 1)) | (mask >> _WEEK_MIN)


def _days(schedule: Schedule) -> tuple[date, date]:
    # A day of slack at the end: an overnight window runs into the day after.
    return (schedule.starts_on or date.min, (schedule.ends_on or date.max - timedelta(1)))


def can_meet(first: Sequence[Schedule], second: Sequence[Schedule]) -> bool:
    """Whether two campaigns' schedules (any one open is enough; none: always) can be
    open at the same moment. Errs towards yes: it is for warnings."""
    for a in first or (Schedule(),):
        for b in second or (Schedule(),):
            (a_first, a_last), (b_first, b_last) = _days(a), _days(b)
            if a_first > b_last + timedelta(1) or b_first > a_last + timedelta(1):
                continue
            if _week_minutes(a) & _week_minutes(b):
                return True
    return False
