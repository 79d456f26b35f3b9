"""A check every sampler calls: time must move on, or sampling stops with an error instead of looping.

A token sampler advances time by the shift it draws. A model (or a damaged checkpoint) that only
ever draws shift 0 would generate events at one onset forever while memory grows; after MAX_STALL
events without progress the sampler raises SamplingError instead.
"""

from __future__ import annotations

from composer.errors import SamplingError

MAX_STALL = 1024  # events at one onset; a full chord on 16 tracks of 10-note chords is 160


class OnsetGuard:
    """Counts events since the onset last advanced; ``check(onset)`` after each sampled event."""

    def __init__(self, max_stall: int = MAX_STALL):
        self.max_stall, self.onset, self.stall = max_stall, None, 0

    def check(self, onset: int) -> None:
        """Raise SamplingError when ``onset`` has not advanced for ``max_stall`` events."""
        if onset != self.onset:
            self.onset, self.stall = onset, 0
            return
        self.stall += 1
        if self.stall >= self.max_stall:
            raise SamplingError(
                f"sampling stalled: {self.stall} events at step {onset} without time moving on "
                "(the model keeps choosing shift 0; try a higher temperature or another checkpoint)"
            )
