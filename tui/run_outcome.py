"""What a run came to, in words a learner reads: its state and its outcome kept apart.

"running" says nothing about success; "failed" names the doctor's finding; "repaired"
means no finding and a test accuracy near the baseline's (measured in this session).
A value that was not measured reads "–", never "nan". Plain Python: tested without a terminal.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from tui.run_trace import RunState, RunTrace

REPAIRED_POINTS = 0.03  # within 3 points of the baseline's test accuracy (the scenarios' own standard)
FAILING_SEVERITIES = ("critical", "warning")
NOT_MEASURED = "–"


@dataclass(frozen=True)
class Outcome:
    mark: str  # one glyph for the scenario list
    word: str  # "running", "failed: Vanishing gradients", "repaired", ...
    style: str  # a Textual style variable for the word


def failing_findings(trace: RunTrace) -> list:
    """The findings that make a run "failed", the doctor's primary first once it has settled."""
    ranked = [trace.primary] + [f for f in trace.findings if f is not trace.primary] if trace.primary else trace.findings
    return [f for f in ranked if f.severity in FAILING_SEVERITIES]


def outcome(trace: RunTrace, baseline_accuracy: float | None = None) -> Outcome:
    """The run's state (going, stopped) and, once it has data, what the doctor and the test set say."""
    failing = failing_findings(trace)
    if trace.active:
        return Outcome("▶", "running" if not trace.state.waiting else str(trace.state), "$text-success")
    if trace.state is RunState.FAILED:
        return Outcome("✗", "error", "$text-error")
    if failing:
        return Outcome("✗", f"failed: {failing[0].title}", "$text-error")
    if trace.state is RunState.STOPPED:
        return Outcome("■", f"stopped at {trace.last_step + 1}", "$text-muted")
    accuracy = trace.test_accuracy
    if baseline_accuracy is not None and math.isfinite(accuracy) and accuracy >= baseline_accuracy - REPAIRED_POINTS:
        return Outcome("✓", "repaired", "$text-success")
    return Outcome("○", "no finding", "$text")


def number(value: float | None, spec: str = ".3f", *, nan: str = NOT_MEASURED) -> str:
    """A measured value; None, or NaN where NaN means "not measured", reads "–". Where a NaN
    was measured (a loss), pass nan="NaN": it is shown as such."""
    if value is None:
        return NOT_MEASURED
    if math.isnan(value):
        return nan
    return format(value, spec)


def run_seconds(trace: RunTrace, now: float | None = None) -> float:
    """Seconds from the first step to the end (or to now, while it trains); NaN before the first step."""
    if not trace.started_at:
        return math.nan
    end = trace.ended_at or (time.monotonic() if now is None else now)
    return max(0.0, end - trace.started_at)


def verdict(trace: RunTrace) -> str:
    """The doctor's word on the run: its findings' titles (the primary first, once settled), or none."""
    ranked = [trace.primary, *trace.findings] if trace.primary else trace.findings
    titles = list(dict.fromkeys(f.title for f in ranked))
    if titles:
        return ", ".join(titles)
    return "watching…" if trace.active else "no finding"

