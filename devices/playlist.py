"""Weighted rotation among the items eligible now: nginx's smooth weighted round-robin.

Each pick adds every eligible item's weight to its credit, plays the item with the
most credit (the earlier one in manifest order on a tie) and takes the total weight
off the winner. Over any run of `total weight` picks from a fresh start each item
plays exactly `weight` times, and a heavy item is spread out rather than bunched:
weights 3 and 1 play A, A, B, A, and equal weights never play an item twice in a row.

The state is an immutable value so the player can keep it across schedule changes:
items that stay eligible keep their credit, new ones start at 0, and items that are
no longer eligible are forgotten.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from devices.protocol import ContentItem

__all__ = ["Rotation", "next_in_rotation"]


@dataclass(frozen=True)
class Rotation:
    """Each item's accumulated credit, by item id, in the order last seen; and, for share
    of voice (devices/share_of_voice.py), the clock hour being counted and the plays each
    guaranteed item has started in it."""

    credits: tuple[tuple[str, int], ...] = ()
    hour: datetime | None = None
    aired: tuple[tuple[str, int], ...] = ()

    def credit(self, item_id: str) -> int:
        return dict(self.credits).get(item_id, 0)


def next_in_rotation(
    rotation: Rotation | None, eligible: Sequence[ContentItem]
) -> tuple[ContentItem, Rotation]:
    """The item to play next and the rotation to pass to the following call."""
    if not eligible:
        raise ValueError("nothing eligible to rotate: `eligible` must hold at least one item")
    previous = dict(rotation.credits) if rotation is not None else {}
    unique: dict[str, ContentItem] = {}
    for item in eligible:
        unique.setdefault(item.id, item)  # a repeated id plays as one item
    items = list(unique.values())
    credits = {item.id: previous.get(item.id, 0) + item.weight for item in items}
    chosen = max(items, key=lambda item: credits[item.id])  # max keeps the first on a tie
    credits[chosen.id] -= sum(item.weight for item in items)
    kept = rotation if rotation is not None else Rotation()
    return chosen, replace(kept, credits=tuple(credits.items()))
