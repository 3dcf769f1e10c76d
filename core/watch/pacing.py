"""Which steps of a watched custom loop get the full statistics.

Every step records its loss, batch accuracy and non-finite count exactly (NumPy, stats.py). The
full statistics (gradient, weight, activation and input statistics, update ratios) cost
about as much as a small net's step in place, so they are computed on the first steps,
then every k-th step, k kept so that they cost at most STATS_SHARE of the measured step
time (never sparser than every MAX_EVERY steps, as Keras fit's probe batches), the way the
live doctor paces itself. The first step with a non-finite value also gets them (hooks.py).

$TBLAB_FULL_STATS_EVERY=k (internal, for tests and benches) forces k whatever the step time
(k = 10 is what a loaded machine gives): the same script at k = 1 and k = 10 must get the
same verdict (tests/test_watch_pacing.py).
"""

from __future__ import annotations

import math
import os

STATS_SHARE = 0.05  # of the step time, for the full statistics on average (watch at 0.9x leaves 10% for all)
FIRST_FULL = 20  # steps: the early dynamics (first loss, initial gradients) at every step
MAX_EVERY = 10
SMOOTHING = 0.1  # weight of a new measure in the running means
FORCED_EVERY_ENV = "TBLAB_FULL_STATS_EVERY"


def forced_every() -> int | None:
    """The pacing $TBLAB_FULL_STATS_EVERY forces (a whole number >= 1), None when unset or bad."""
    text = os.environ.get(FORCED_EVERY_ENV, "").strip()
    return int(text) if text.isdigit() and int(text) >= 1 else None


class StatsPacer:
    def __init__(self, share: float = STATS_SHARE, first_full: int = FIRST_FULL, max_every: int = MAX_EVERY,
                 forced: int | None = None):
        self.share, self.first_full, self.max_every = share, first_full, max_every
        self.forced = forced  # k, whatever the step time (None: paced by time)
        self.step_seconds: float | None = None  # running mean of the time between steps
        self.full_seconds: float | None = None  # running mean of the full statistics' time
        self.last_full = -max_every
        self._last_time: float | None = None

    def every(self) -> int:
        if self.step_seconds is None or self.full_seconds is None or self.step_seconds <= 0:
            return 1
        return max(1, min(self.max_every, math.ceil(self.full_seconds / (self.share * self.step_seconds))))

    def is_full(self, step: int, now: float) -> bool:
        """Called once a step, in step order, with the time of its gradient call."""
        if self._last_time is not None:
            self.step_seconds = _mean(self.step_seconds, now - self._last_time)
        self._last_time = now
        every = self.forced if self.forced is not None else self.every()
        full = step < self.first_full or step - self.last_full >= every
        if full:
            self.last_full = step
        return full

    def measured(self, seconds: float) -> None:
        """The time the full statistics of a step took (the light part is paid every step)."""
        self.full_seconds = _mean(self.full_seconds, seconds)


def _mean(mean: float | None, value: float) -> float:
    return value if mean is None else (1 - SMOOTHING) * mean + SMOOTHING * value
