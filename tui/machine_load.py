"""How much of the machine other programs used while something was timed (Linux /proc/stat).

A speed measured while another training shares the cores says more about the neighbours
than about the code: the pipeline-speed page and bench/lab_speed.py say so next to it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

BUSY_SHARE = 0.25  # other programs on a quarter of the cores or more: the machine was busy
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class CpuMark:
    wall: float  # time.monotonic()
    busy: float  # seconds of CPU every program has used, on all cores
    own: float  # seconds of CPU this process has used


def cpu_mark() -> CpuMark | None:
    """Now, for cpu_share_of_others(); None where /proc/stat cannot be read."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(x) for x in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle and waiting for I/O
    times = os.times()
    return CpuMark(time.monotonic(), (sum(fields[:8]) - idle) / _CLOCK_TICKS, times.user + times.system)


def cpu_share_of_others(start: CpuMark | None, end: CpuMark | None) -> float | None:
    """The share of all cores (0..1) that other programs used between two marks; None if unknown."""
    if start is None or end is None or end.wall <= start.wall:
        return None
    others = (end.busy - start.busy) - (end.own - start.own)
    return max(0.0, min(1.0, others / ((end.wall - start.wall) * (os.cpu_count() or 1))))


def load_note(share: float | None) -> str:
    """One sentence for next to a timing: how busy the machine was meanwhile."""
    if share is None:
        return ""
    if share >= BUSY_SHARE:
        return (f"The machine was busy: other programs used {share:.0%} of the CPU while this was timed, "
                f"so these speeds and ratios are not reliable. Time it again on a quiet machine.")
    return f"Other programs used {share:.0%} of the CPU while this was timed."
