"""How far one agent's clock is off the collector's, learnt from batches stamped as they were sent.

An agent stamps each batch with its clock at the moment it publishes it (`Batch.sent_ns`,
agent.protocol.stamp_sent), not when it measured it. So for a batch received at
`received_ns` the difference `received_ns - sent_ns` is the collector's clock minus the
agent's, plus the time the batch travelled. That time is never negative, so the lowest
difference is the best estimate (NTP's minimum filter), and a batch that waited somewhere
(in the broker's queue while the collector was down, a retransmission after a reconnect)
can only make the agent look further behind than it is. Hence the asymmetry:

- a difference at or below the estimate (within `AGREE_NS` above it) is taken at once: the
  agent is not further behind than that, so its clock was stepped forward (fixed), or the
  estimate held a delay;
- a difference above the estimate, or the first one, is a candidate, taken only when the
  next batch confirms it within `AGREE_NS`: one late batch is a delay, two that agree are
  the agent's clock (its clock was stepped back, or this is a new agent). Batches queued in
  the broker arrive together but were sent an interval apart, so they do not agree.

Pure: times are arguments. `collector.state.FleetState` keeps one per agent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from agent.protocol import NS

# Two differences within this of each other are the same clock offset: network and ingest
# delays on a live connection are milliseconds, an agent's interval is seconds.
AGREE_NS: Final = 1 * NS
# No clock reads beyond this (int64 nanoseconds end in 2262): a stamp past it is no time at all.
MAX_TIME_NS: Final = 2**63 - 1


@dataclass(slots=True)
class ClockOffset:
    """One agent's clock offset: `offset_ns` is the collector's clock minus the agent's, once known."""

    offset_ns: int | None = None  # None until two batches agreed on it
    candidate_ns: int | None = None  # a difference above the estimate, waiting for the next to confirm it

    def observe(self, received_ns: int, sent_ns: int) -> None:
        """Take one batch's send stamp and receive time; a batch without a stamp (0) teaches nothing."""
        if sent_ns <= 0 or sent_ns > MAX_TIME_NS or received_ns <= 0:
            return
        seen = received_ns - sent_ns
        known = self.offset_ns
        if known is not None and seen <= known + AGREE_NS:
            self.offset_ns = min(known, seen)
            self.candidate_ns = None
            return
        candidate = self.candidate_ns
        if candidate is not None and abs(seen - candidate) <= AGREE_NS:
            self.offset_ns = min(candidate, seen)
            self.candidate_ns = None
            return
        self.candidate_ns = seen

    def correction_ns(self, skew_ns: int, max_delay_ns: int | None = None) -> int:
        """What to add to the agent's times: its offset when that is known and beyond `skew_ns`, else 0.

        With `max_delay_ns` (the longest a batch can wait on its way), a first difference no
        delay explains is taken before a second batch confirms it: one below -`skew_ns` (a
        delay only makes an agent look further behind, so this one is ahead), or one above
        `max_delay_ns`. Ingest writes such a PC's first batch at the collector's time instead
        of ten years back, where the metrics database would drop it.
        """
        offset = self.offset_ns
        if offset is None and max_delay_ns is not None:
            seen = self.candidate_ns
            if seen is not None and (seen < -skew_ns or seen > max_delay_ns):
                offset = seen
        if offset is None or abs(offset) <= skew_ns:
            return 0
        return offset
