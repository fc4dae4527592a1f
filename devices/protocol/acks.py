"""The acknowledgement rule of the contract (DESIGN.md, data flow step 4), as pure code.

An ack names the highest sequence number up to which *every* event of one device's
outbox epoch is durably stored. A batch lost on the way leaves a gap, and the ack
stays below the gap until the device's re-send fills it: later batches never
acknowledge past a hole.
"""

from __future__ import annotations

from collections.abc import Iterable


class AckWatermark:
    """Contiguous watermark of stored sequence numbers for one device epoch."""

    def __init__(self, up_to_seq: int = 0) -> None:
        self.up_to_seq = up_to_seq
        self._above: set[int] = set()

    def add(self, stored_seqs: Iterable[int]) -> int:
        """Record durably stored seqs; returns the new contiguous watermark."""
        for seq in stored_seqs:
            if seq > self.up_to_seq:
                self._above.add(seq)
        while self.up_to_seq + 1 in self._above:
            self.up_to_seq += 1
            self._above.discard(self.up_to_seq)
        return self.up_to_seq

    @property
    def gaps(self) -> bool:
        """Whether seqs above the watermark are waiting for a hole to be filled."""
        return bool(self._above)
