"""The acknowledgement rule of the contract (DESIGN.md, data flow step 4), as pure code.

An ack names the highest sequence number up to which *every* event of one device's
outbox epoch is durably stored. A batch lost on the way leaves a gap, and the ack
stays below the gap until the device's re-send fills it: later batches never
acknowledge past a hole.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence

SeqRange = tuple[int, int]  # first and last seq, inclusive


class AckWatermark:
    """Contiguous watermark of stored sequence numbers for one device epoch, and the
    stored runs above it (a few ranges, not one entry per event)."""

    def __init__(self, up_to_seq: int = 0, above: Iterable[SeqRange] = ()) -> None:
        self.up_to_seq = up_to_seq
        self._above: list[SeqRange] = []
        self._merge(sorted(above))

    @property
    def above(self) -> tuple[SeqRange, ...]:
        """Stored ranges beyond a gap, in order; empty when there is no gap."""
        return tuple(self._above)

    @property
    def gaps(self) -> bool:
        """Whether seqs above the watermark are waiting for a hole to be filled."""
        return bool(self._above)

    def holds(self, seq: int) -> bool:
        """Whether `seq` is stored already."""
        if seq <= self.up_to_seq:
            return True
        index = bisect.bisect_right(self._above, seq, key=_first) - 1
        return index >= 0 and self._above[index][0] <= seq <= self._above[index][1]

    def add(self, stored_seqs: Iterable[int]) -> int:
        """Record durably stored seqs; returns the new contiguous watermark."""
        self._merge(_runs(sorted(stored_seqs)))
        return self.up_to_seq

    def skip(self, dropped: Iterable[SeqRange]) -> int:
        """Mark seqs the device dropped unsent as done, though not stored, so the
        watermark can pass them (issue 13.4); returns how many of them were not stored
        already, the events lost for good. Marking the same range again counts nothing."""
        ranges = _merged(dropped)  # the wire forbids overlaps; count each seq once anyway
        lost = sum(last - first + 1 for first, last in _without(ranges, self._held()))
        self._merge(ranges)
        return lost

    def _held(self) -> list[SeqRange]:
        held = [(1, self.up_to_seq)] if self.up_to_seq >= 1 else []
        return [*held, *self._above]

    def _merge(self, ranges: Sequence[SeqRange]) -> None:
        merged = _merged([*self._above, *ranges])
        while merged and merged[0][0] <= self.up_to_seq + 1:
            self.up_to_seq = max(self.up_to_seq, merged.pop(0)[1])
        self._above = merged


def _first(seq_range: SeqRange) -> int:
    return seq_range[0]


def _runs(seqs: Sequence[int]) -> list[SeqRange]:
    if seqs and seqs[-1] - seqs[0] == len(seqs) - 1 and len(set(seqs)) == len(seqs):
        return [(seqs[0], seqs[-1])]  # the usual batch: one unbroken run
    runs: list[SeqRange] = []
    for seq in seqs:
        if runs and seq <= runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], max(runs[-1][1], seq))
        else:
            runs.append((seq, seq))
    return runs


def _merged(ranges: Iterable[SeqRange]) -> list[SeqRange]:
    merged: list[SeqRange] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def _without(ranges: Sequence[SeqRange], held: Sequence[SeqRange]) -> list[SeqRange]:
    """The parts of sorted `ranges` outside the sorted, disjoint `held` ranges."""
    out: list[SeqRange] = []
    for first, last in ranges:
        start = first
        for held_first, held_last in held:
            if held_last < start or held_first > last:
                continue
            if held_first > start:
                out.append((start, held_first - 1))
            start = max(start, held_last + 1)
        if start <= last:
            out.append((start, last))
    return out
