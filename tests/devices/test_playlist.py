"""Weighted rotation: fair shares, heavy items spread out, state kept across changes."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence

import pytest

from devices.playlist import Rotation, next_in_rotation
from devices.protocol import ContentItem, ItemKind, TextSlide
from devices.schedule import Rotation as RotationFromSchedule


def item(item_id: str, weight: int = 1) -> ContentItem:
    return ContentItem(
        id=item_id,
        kind=ItemKind.TEXT,
        text=TextSlide(title=item_id),
        duration_s=10,
        weight=weight,
    )


def play(
    eligible: Sequence[ContentItem], picks: int, rotation: Rotation | None = None
) -> tuple[list[str], Rotation | None]:
    shown = []
    for _ in range(picks):
        chosen, rotation = next_in_rotation(rotation, eligible)
        shown.append(chosen.id)
    return shown, rotation


def longest_run(shown: list[str], item_id: str) -> int:
    return max(
        (len(list(run)) for key, run in itertools.groupby(shown) if key == item_id), default=0
    )


@pytest.mark.parametrize("weights", [(5, 3, 2), (1, 1, 2), (7, 1), (1, 1, 1, 1)])
def test_counts_over_400_picks_are_exactly_proportional_to_weights(
    weights: tuple[int, ...],
) -> None:
    items = [item(f"item-{n}", weight) for n, weight in enumerate(weights)]
    shown, _ = play(items, 400)
    total = sum(weights)
    assert Counter(shown) == {
        f"item-{n}": 400 * weight // total for n, weight in enumerate(weights)
    }


def test_three_to_one_plays_a_a_b_a() -> None:
    shown, _ = play([item("a", 3), item("b", 1)], 8)
    assert shown == ["a", "a", "b", "a"] * 2


def test_equal_weights_never_show_an_item_twice_in_a_row() -> None:
    shown, _ = play([item("a"), item("b"), item("c")], 30)
    assert all(first != second for first, second in itertools.pairwise(shown))
    assert shown[:3] == ["a", "b", "c"]


def test_heavy_item_is_spread_between_the_others_not_bunched() -> None:
    shown, _ = play([item("heavy", 4), item("b"), item("c")], 60)
    assert shown[:6] == ["heavy", "heavy", "b", "heavy", "c", "heavy"]  # not 4 in a row
    assert longest_run(shown, "heavy") < 4
    # Any six consecutive picks, wherever the screen is looked at, hold the full mix.
    for start in range(len(shown) - 6):
        assert Counter(shown[start : start + 6]) == {"heavy": 4, "b": 1, "c": 1}


def test_rotation_is_deterministic() -> None:
    items = [item("a", 2), item("b", 5), item("c", 1)]
    assert play(items, 50) == play(items, 50)


def test_items_keep_their_credit_when_another_joins() -> None:
    a, b, c = item("a", 3), item("b", 1), item("c", 1)
    _, rotation = play([a, b], 2)  # a, a: a owes, b has credit
    assert rotation is not None
    assert (rotation.credit("a"), rotation.credit("b")) == (-2, 2)
    chosen, rotation = next_in_rotation(rotation, [a, b, c])  # c starts at 0
    assert chosen == b
    assert (rotation.credit("a"), rotation.credit("b"), rotation.credit("c")) == (1, -2, 1)


def test_item_that_is_no_longer_eligible_is_forgotten() -> None:
    a, b = item("a"), item("b")
    _, rotation = play([a, b], 3)
    _, rotation = play([a], 1, rotation)
    assert rotation is not None
    assert [item_id for item_id, _ in rotation.credits] == ["a"]
    shown, _ = play([a, b], 2, rotation)  # b comes back at 0 credit
    assert sorted(shown) == ["a", "b"]


def test_rotation_over_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="eligible"):
        next_in_rotation(None, [])


def test_rotation_is_importable_from_the_schedule_module() -> None:
    assert RotationFromSchedule is Rotation
