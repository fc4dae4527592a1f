"""A week of playback with a manual clock, against an oracle built from a hand-written
table of what is eligible when.

The planner finds the boundaries itself, from the manifest's schedules through
devices.schedule; the oracle below is told them by hand (the `SEGMENTS` table, read off
the scenario's description) and only plays the weighted rotation inside each segment,
with the same `next_in_rotation` the CMS preview uses. A handful of events are also
spelled out literally.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from devices.clock import ManualClock
from devices.protocol import Alert, ContentItem, Manifest, PlayData, PlayOutcome
from devices.schedule import Rotation, next_in_rotation
from signage_player.playback import Inputs, PlayState, finish, step
from tests.signage_player.scenario import (
    ALERT_DELIVERIES,
    EVACUATE,
    POOL_CLOSED,
    WEEK_END,
    WEEK_START,
    local,
    week_manifest,
)

D = ("welcome", "hours")


@dataclass(frozen=True)
class Segment:
    start: datetime
    eligible: tuple[str, ...] = ()  # in manifest order
    interrupts: str = ""  # reason given to an item cut off at `start`
    alert: Alert | None = None
    alert_cleared_at: datetime | None = None


SEGMENTS = (
    # Monday: no campaigns yet but breakfast
    Segment(local(0, 0), D),
    Segment(local(0, 6), ("breakfast",), "priority"),
    Segment(local(0, 10), D, "schedule"),
    # Tuesday: storytime outranks breakfast from 09:30
    Segment(local(1, 6), ("breakfast",), "priority"),
    Segment(local(1, 9, 30), ("storytime",), "priority"),
    Segment(local(1, 10, 30), D, "schedule"),
    # Wednesday: the holiday programme's date range starts at local midnight
    Segment(local(2, 0), ("holidays",), "priority"),
    Segment(local(2, 6), ("breakfast", "holidays")),
    Segment(local(2, 10), ("holidays",), "schedule"),
    # Thursday: storytime, then the pool-closed alert runs to expiry
    Segment(local(3, 6), ("breakfast", "holidays")),
    Segment(local(3, 9, 30), ("storytime",), "priority"),
    Segment(local(3, 10, 30), ("holidays",), "schedule"),
    Segment(local(3, 13, 45), interrupts="alert", alert=POOL_CLOSED),
    Segment(local(3, 14, 15), ("holidays",)),
    # Friday: late swim from 21:00 across midnight into Saturday
    Segment(local(4, 6), ("breakfast", "holidays")),
    Segment(local(4, 10), ("holidays",), "schedule"),
    Segment(local(4, 21), ("late-swim", "holidays")),
    Segment(local(5, 1), ("holidays",), "schedule"),
    # Saturday: an evacuation alert, cleared after 20 minutes
    Segment(local(5, 6), ("breakfast", "holidays")),
    Segment(local(5, 9), interrupts="alert", alert=EVACUATE, alert_cleared_at=local(5, 9, 20)),
    Segment(local(5, 9, 20), ("breakfast", "holidays")),
    Segment(local(5, 10), ("holidays",), "schedule"),
    Segment(local(5, 21), ("late-swim", "holidays")),
    # Sunday: Saturday's late swim ends at 01:00
    Segment(local(6, 1), ("holidays",), "schedule"),
    Segment(local(6, 6), ("breakfast", "holidays")),
    Segment(local(6, 10), ("holidays",), "schedule"),
)

Shown = tuple[datetime, str, str]  # started at, screen, item or alert id


def _item_event(
    item: ContentItem, start: datetime, end: datetime, planned_s: float, reason: str | None
) -> PlayData:
    return PlayData(
        item_id=item.id,
        campaign_id=item.campaign_id,
        asset_sha256=item.asset,
        started_at=start,
        ended_at=end,
        shown_s=(end - start).total_seconds(),
        scheduled_s=planned_s,
        outcome=PlayOutcome.COMPLETED if reason is None else PlayOutcome.INTERRUPTED,
        reason=reason,
    )


def oracle(manifest: Manifest) -> tuple[list[Shown], list[PlayData]]:
    items = {item.id: item for item in (*manifest.items, *manifest.default_items)}
    shown: list[Shown] = []
    events: list[PlayData] = []
    rotation: Rotation | None = None
    current: tuple[ContentItem, datetime, datetime] | None = None  # item, start, planned end
    bounds = [*SEGMENTS[1:], Segment(WEEK_END, interrupts="stopped")]
    for segment, following in zip(SEGMENTS, bounds, strict=True):
        end = following.start
        if segment.alert is not None:
            alert = segment.alert
            stop = segment.alert_cleared_at or alert.expires_at
            shown.append((segment.start, "alert", alert.id))
            events.append(
                PlayData(
                    item_id=alert.id,
                    alert_id=alert.id,
                    started_at=segment.start,
                    ended_at=stop,
                    shown_s=(stop - segment.start).total_seconds(),
                    scheduled_s=(alert.expires_at - segment.start).total_seconds(),
                    outcome=PlayOutcome.INTERRUPTED
                    if segment.alert_cleared_at
                    else PlayOutcome.COMPLETED,
                    reason="cleared" if segment.alert_cleared_at else None,
                )
            )
            assert stop == end
            continue
        eligible = [items[item_id] for item_id in segment.eligible]
        t = segment.start
        while True:
            if current is None:
                if t >= end:
                    break
                item, rotation = next_in_rotation(rotation, eligible)
                current = (item, t, t + timedelta(seconds=item.duration_s))
                shown.append((t, "item", item.id))
            item, started, planned = current
            if planned > end:
                break
            events.append(_item_event(item, started, planned, item.duration_s, None))
            current, t = None, planned
        # At the boundary the current item goes on if the next segment still has it.
        if current is None or (following.alert is None and current[0].id in following.eligible):
            continue
        item, started, planned = current
        events.append(_item_event(item, started, end, item.duration_s, following.interrupts))
        current = None
    return shown, events


def simulate(
    manifest: Manifest,
    alert_deliveries: tuple[tuple[datetime, tuple[Alert, ...]], ...] = ALERT_DELIVERIES,
) -> tuple[list[Shown], list[PlayData], int]:
    """The planner driven through the week by a manual clock, alerts handed in as the
    device would receive them."""
    clock = ManualClock(WEEK_START)
    inputs = Inputs(manifest=manifest)
    state = PlayState()
    deliveries = list(alert_deliveries)
    shown: list[Shown] = []
    events: list[PlayData] = []
    steps = 0
    while clock.now() < WEEK_END:
        while deliveries and deliveries[0][0] <= clock.now():
            inputs = Inputs(manifest=manifest, alerts=deliveries.pop(0)[1])
        result = step(inputs, state, clock.now())
        steps += 1
        state = result.state
        events.extend(result.events)
        if result.changed:
            slot = state.slot
            assert slot is not None
            ident = slot.alert.id if slot.alert else slot.item.id if slot.item else slot.reason
            shown.append((slot.started_at, slot.screen.value, str(ident)))
        assert result.wake_at > clock.now(), "the planner must move time forward"
        wake = min([result.wake_at, WEEK_END, *(d[0] for d in deliveries[:1])])
        clock.set(wake)
    state, last = finish(state, clock.now())
    events.extend(last)
    return shown, events, steps


@pytest.fixture(scope="module")
def week() -> tuple[list[Shown], list[PlayData], int]:
    return simulate(week_manifest())


def test_a_week_plays_exactly_the_expected_items_and_proof_of_play(
    week: tuple[list[Shown], list[PlayData], int],
) -> None:
    shown, events, steps = week
    expected_shown, expected_events = oracle(week_manifest())

    assert shown[0] == (WEEK_START, "item", "welcome")
    assert [s for s in shown if s[1] != "item"] == [
        (local(3, 13, 45), "alert", "pool-closed"),
        (local(5, 9), "alert", "evacuate"),
    ]
    for index, (got, want) in enumerate(zip(shown, expected_shown, strict=False)):
        assert got == want, f"slot {index}: got {got}, expected {want}"
    assert len(shown) == len(expected_shown)
    for index, (got_event, want_event) in enumerate(zip(events, expected_events, strict=False)):
        assert got_event == want_event, f"event {index}: got {got_event}, expected {want_event}"
    assert len(events) == len(expected_events)
    # It sleeps until the next change: one wake-up per item plus the boundaries, no polling.
    assert steps <= len(events) + 3 * len(SEGMENTS) + 7 * 24


def _events_between(events: list[PlayData], start: datetime, end: datetime) -> list[PlayData]:
    return [e for e in events if start <= e.ended_at <= end]


def test_the_week_boundaries_look_as_a_person_would_expect(
    week: tuple[list[Shown], list[PlayData], int],
) -> None:
    """Spelled out by hand at the moments people ask about."""
    _, events, _ = week

    # Monday starts with the defaults alternating, 20 s and 35 s.
    first = events[:3]
    assert [(e.item_id, e.started_at, e.ended_at) for e in first] == [
        ("welcome", local(0, 0), local(0, 0, 0, 20)),
        ("hours", local(0, 0, 0, 20), local(0, 0, 0, 55)),
        ("welcome", local(0, 0, 0, 55), local(0, 0, 1, 15)),
    ]
    assert all(e.outcome is PlayOutcome.COMPLETED for e in first)

    # Wednesday 00:00: the holiday programme's first day starts at local midnight and
    # outranks the defaults, which are cut off right then.
    cut = [e for e in events if e.ended_at == local(2, 0)]
    assert len(cut) == 1
    assert cut[0].item_id in D
    assert cut[0].outcome is PlayOutcome.INTERRUPTED and cut[0].reason == "priority"
    after = next(e for e in events if e.started_at == local(2, 0))
    assert after.item_id == "holidays" and after.campaign_id == "school-holidays"
    # No holiday content on Tuesday.
    assert not [e for e in events if e.item_id == "holidays" and e.started_at < local(2, 0)]

    # Friday's 21:00-01:00 late swim runs past midnight and stops at 01:00 Saturday.
    late = [e for e in events if e.item_id == "late-swim"]
    # The holiday item showing at 21:00 finishes its 40 s turn first (no cut needed).
    assert local(4, 21) < min(e.started_at for e in late) <= local(4, 21, 0, 40)
    friday_night = [e for e in late if e.started_at < local(5, 6)]
    assert max(e.ended_at for e in friday_night) <= local(5, 1)
    assert any(local(5, 0) <= e.started_at < local(5, 1) for e in friday_night)
    # ...and on Saturday night into Sunday, but never on Thursday night.
    assert any(local(6, 0) <= e.started_at < local(6, 1) for e in late)
    assert not any(local(3, 21) <= e.started_at < local(4, 6) for e in late)

    # The Thursday alert interrupts at 13:45 sharp and runs to expiry.
    pool = [e for e in events if e.alert_id == "pool-closed"]
    assert len(pool) == 1
    assert (pool[0].started_at, pool[0].ended_at) == (local(3, 13, 45), local(3, 14, 15))
    assert pool[0].outcome is PlayOutcome.COMPLETED and pool[0].shown_s == 1800
    cut = [e for e in events if e.ended_at == local(3, 13, 45) and e.alert_id is None]
    assert [(e.item_id, e.outcome, e.reason) for e in cut] == [
        ("holidays", PlayOutcome.INTERRUPTED, "alert")
    ]

    # Saturday's evacuation alert is cleared after 20 minutes of its planned two hours.
    evac = [e for e in events if e.alert_id == "evacuate"]
    assert [(e.shown_s, e.scheduled_s, e.outcome, e.reason) for e in evac] == [
        (1200.0, 7200.0, PlayOutcome.INTERRUPTED, "cleared")
    ]

    # The proof-of-play is contiguous: every second of the week is accounted for once.
    ordered = sorted(events, key=lambda e: e.started_at)
    assert ordered[0].started_at == WEEK_START
    assert ordered[-1].ended_at == WEEK_END
    for before, after_event in itertools.pairwise(ordered):
        assert before.ended_at == after_event.started_at
    assert sum(e.shown_s for e in events) == 7 * 24 * 3600
