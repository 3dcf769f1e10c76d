"""Offline diagnosis: replay a finished History through the live doctor, so a log on
disk gets the same verdict, with the same first-seen steps, as the run got live."""

from __future__ import annotations

import math

from core.doctor import thresholds as T
from core.doctor.findings import Diagnosis
from core.doctor.live import LiveDoctor
from core.doctor.rules import RULES, Rule
from core.schema.history import History
from core.schema.tags import LOSS, NONFINITE_COUNT


def diagnose(history: History, *, every: int | None = None, rules: tuple[Rule, ...] = RULES) -> Diagnosis:
    """The doctor's verdict on a recorded run (tblab's own, or any log read into a History)."""
    steps = _record_steps(history)
    if every is None:
        # Every record of an epoch log (a handful); as often as live for step logs.
        least = 1 if history.facts.step_unit == "epoch" else T.CHECK_EVERY
        every = max(least, math.ceil(len(steps) / T.REPLAY_CHECKS))
    doctor = LiveDoctor(history, every=every, budget=None, rules=rules)
    checkpoints = set(steps[::every]) | _first_blowup_steps(history)
    for step in sorted(checkpoints):
        doctor.check(step)
    doctor.finish()
    return doctor.diagnosis()


def _record_steps(history: History) -> list[int]:
    steps = set()
    for series in history.train.values():
        steps.update(series.steps)
    for snaps in history.histograms.values():
        steps.update(s.step for s in snaps)
    return sorted(steps)


def _first_blowup_steps(history: History) -> set[int]:
    """Where the loss or the non-finite count first goes bad: checked exactly, as live."""
    found = set()
    for tag in (LOSS, NONFINITE_COUNT):
        series = history.train.get(tag)
        if series is None:
            continue
        for step, value in zip(series.steps, series.values):
            if not math.isfinite(value) or (tag == NONFINITE_COUNT and value > 0):
                found.add(step)
                break
    return found
