"""How many steps the next compiled block runs: where blocks must end, and K.

Blocks end at every step that has something besides a record (a snapshot, an eval, the
run's last step), so snapshots and evals fall on the same steps whatever K is.

K adapts to the measured step time so that one block takes about BLOCK_SECONDS: records
then reach the lab (which redraws every 0.1 s) and a Stop request is answered within
that time, while each block's one Python-to-graph dispatch (~1 ms) is shared by tens of
steps. K grows at most 2x per block, so one fast measurement cannot make the next block
run long, and shrinks at once when steps slow down.
"""

from __future__ import annotations

BLOCK_SECONDS = 0.05
MAX_BLOCK_STEPS = 200  # past ~50 steps the dispatch saved is under 2% of a step


def block_end(start: int, size: int, total: int, cadences: tuple[int, ...]) -> int:
    """The last step of the block starting at `start`: at most `size` steps, ending at the
    first step at or after `start` that is a multiple of one of `cadences`, or at the
    run's last step `total - 1`."""
    end = min(start + size, total) - 1
    for every in cadences:
        end = min(end, -(-start // every) * every)  # the first multiple of `every` >= start
    return end


class BlockPacer:
    """K for the next block: fixed when given, else adapted to the measured step time."""

    def __init__(self, fixed: int | None = None, target_seconds: float = BLOCK_SECONDS, most: int = MAX_BLOCK_STEPS):
        if fixed is not None and fixed < 1:
            raise ValueError("steps per call must be >= 1")
        self.fixed, self.target, self.most = fixed, target_seconds, most
        self.size = fixed or 1  # the first measured block is a single step

    def observe(self, steps: int, seconds: float) -> None:
        """A block of `steps` steps took `seconds` (tracing excluded by the caller)."""
        if self.fixed is not None or steps < 1 or seconds <= 0:
            return
        fits = int(self.target / (seconds / steps))
        self.size = max(1, min(fits, 2 * self.size, self.most))
