"""Which fix sets to try on a failing run, and which of them repaired it.

The doctor's first repair is tried first, then each of its other suggested fixes (and a
scenario's expected set); the first that repairs the run is the section's fix, the other
repairs are "other fixes that also work"."""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.runs.handin.attempts import Attempt
from core.runs.handin.evidence import first_nonfinite_step, last_test

MAX_CANDIDATES = 4
GAIN = 0.02  # test accuracy must rise by more than this for a fix to count as a repair


def candidates(diagnosis, applicable: set[str] | None, expected: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Fix sets to try, the doctor's first repair first; only fixes in `applicable` (None: all)."""
    primary = getattr(diagnosis, "primary", None)
    sets: list[tuple[str, ...]] = []
    if primary is not None:
        sets.append(tuple(sorted(primary.first_repair)))
        sets += [(fix,) for fix in primary.fixes]
    if expected:
        sets.append(tuple(sorted(expected)))
    out = []
    for fixes in sets:
        if fixes and fixes not in out and (applicable is None or set(fixes) <= applicable):
            out.append(fixes)
    return out[:MAX_CANDIDATES]


def test_accuracy(attempt: Attempt | None) -> float:
    if attempt is None:
        return math.nan
    if not math.isnan(attempt.row.test_accuracy):
        return attempt.row.test_accuracy
    return last_test(attempt.history)[1] if attempt.history is not None else math.nan


def repaired(before: Attempt, after: Attempt) -> bool:
    """The run trained: no non-finite step, the doctor's main finding gone, test accuracy up."""
    if not after.ok:
        return False
    primary = getattr(before.diagnosis, "primary", None)
    if primary is not None and after.diagnosis is not None and after.diagnosis.get(primary.id):
        return False
    if first_nonfinite_step(after.history) is not None:
        return False
    gain = test_accuracy(after) - (0.0 if math.isnan(test_accuracy(before)) else test_accuracy(before))
    return gain > GAIN


@dataclass(frozen=True)
class Choice:
    fix: Attempt | None  # the first tried set that repaired the run
    first_failed: Attempt | None  # the doctor's first repair, when it did not repair the run
    also_work: tuple[Attempt, ...]
    did_not: tuple[Attempt, ...]


def choose(before: Attempt, tried: list[Attempt]) -> Choice:
    works = [a for a in tried if repaired(before, a)]
    fix = works[0] if works else None
    first_failed = tried[0] if tried and tried[0] is not fix else None
    return Choice(fix, first_failed, tuple(works[1:]), tuple(a for a in tried if a not in works))
