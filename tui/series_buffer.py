"""DecimatedSeries: a scalar series held in bounded memory for plotting.

A 100k-step run must draw as fast as a 100-step one, so points are averaged
into buckets that double in width whenever the buffer fills; `points(n)` then
thins them to what a plot of n columns can show. Non-finite values are kept
out of the averages (a bucket of only NaN stays NaN, and is not drawn).
"""

from __future__ import annotations

import math

import numpy as np

DEFAULT_CAPACITY = 2048  # a few times the widest plot, in points


class DecimatedSeries:
    """Appends (step, value); keeps at most `capacity` bucket means."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 2 or capacity % 2:
            raise ValueError("capacity must be an even number >= 2")
        self.capacity = capacity
        self.bucket_width = 1  # raw points per stored point
        self._steps: list[float] = []
        self._sums: list[float] = []  # sum of the finite values of each bucket
        self._counts: list[int] = []  # finite values in each bucket
        self._sizes: list[int] = []  # raw points in each bucket
        self.count = 0
        self.last_step = -1
        self.last_value = math.nan
        self.last_finite_step = -1  # the newest value that was a number (a step may carry NaN or nothing)
        self.last_finite_value = math.nan

    def __len__(self) -> int:
        return len(self._steps)

    def append(self, step: int, value: float) -> None:
        self.count += 1
        self.last_step, self.last_value = step, value
        if not self._sizes or self._sizes[-1] >= self.bucket_width:
            if len(self._steps) == self.capacity:
                self._halve()  # every bucket is full here, so all merged ones are full too
            self._steps.append(float(step))
            self._sums.append(0.0)
            self._counts.append(0)
            self._sizes.append(0)
        self._sizes[-1] += 1
        if math.isfinite(value):
            self.last_finite_step, self.last_finite_value = step, value
            self._sums[-1] += value
            self._counts[-1] += 1

    def _halve(self) -> None:
        """Merge neighbouring buckets pairwise; each bucket now covers twice the steps."""
        self.bucket_width *= 2
        self._steps = self._steps[0::2]  # a bucket is placed at its first step
        self._sums = [a + b for a, b in zip(self._sums[0::2], self._sums[1::2])]
        self._counts = [a + b for a, b in zip(self._counts[0::2], self._counts[1::2])]
        self._sizes = [a + b for a, b in zip(self._sizes[0::2], self._sizes[1::2])]

    def points(self, max_points: int) -> tuple[list[float], list[float]]:
        """At most max_points (step, mean) pairs for drawing; buckets with no finite value are left out."""
        steps = np.asarray(self._steps, dtype=np.float64)
        sums = np.asarray(self._sums, dtype=np.float64)
        counts = np.asarray(self._counts, dtype=np.float64)
        if len(steps) > max_points > 0:
            group = math.ceil(len(steps) / max_points)
            pad = -len(steps) % group  # the last group may be short
            steps = np.pad(steps, (0, pad), mode="edge").reshape(-1, group)[:, 0]
            sums = np.pad(sums, (0, pad)).reshape(-1, group).sum(axis=1)
            counts = np.pad(counts, (0, pad)).reshape(-1, group).sum(axis=1)
        keep = counts > 0
        return steps[keep].tolist(), (sums[keep] / counts[keep]).tolist()
