"""Proof by re-running: apply the doctor's suggested fix to a tblab run's config, train
again for the same number of steps, and compare before and after.

A fix counts as verified when the finding it was suggested for is gone from the
re-run and the test accuracy did not get worse. TensorFlow is imported only when a
run is actually trained.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from core.doctor.engine import diagnose
from core.doctor.findings import Diagnosis, Finding
from core.runs.recipe import configure
from core.schema.config import RunConfig
from core.schema.fixes import FIXES
from core.schema.history import History

ACCURACY_SLACK = 0.01  # a re-run may land this much lower by batch-order noise and still count
MIN_GAIN = 0.05  # a failing run's repair must gain at least this much test accuracy ...
GOOD_ENOUGH = 0.85  # ... unless it was already this good (a run that "works somewhat")


@dataclass(frozen=True)
class Outcome:
    """What one run ended with: test accuracy and loss, and what the doctor found."""

    test_accuracy: float
    test_loss: float
    steps: int
    finding_ids: tuple[str, ...]
    primary: str | None

    @classmethod
    def of(cls, history: History, diagnosis: Diagnosis, steps: int) -> Outcome:
        accuracy, loss = history.val.get("accuracy"), history.val.get("loss")
        return cls(
            test_accuracy=accuracy.last() if accuracy else math.nan,
            test_loss=loss.last() if loss else math.nan,
            steps=steps,
            finding_ids=tuple(f.id for f in diagnosis.findings),
            primary=diagnosis.primary.id if diagnosis.primary else None,
        )


@dataclass(frozen=True)
class Verification:
    """A suggested fix, re-run: before and after."""

    finding: str  # the finding the fix was suggested for
    fixes: tuple[str, ...]
    before: Outcome
    after: Outcome

    @property
    def finding_gone(self) -> bool:
        return self.finding not in self.after.finding_ids

    @property
    def not_worse(self) -> bool:
        before, after = self.before.test_accuracy, self.after.test_accuracy
        if not math.isfinite(after):
            return False
        return not math.isfinite(before) or after >= before - ACCURACY_SLACK

    @property
    def improved(self) -> bool:
        before, after = self.before.test_accuracy, self.after.test_accuracy
        if not math.isfinite(after):
            return False
        return not math.isfinite(before) or after >= before + MIN_GAIN or (before >= GOOD_ENOUGH and self.not_worse)

    @property
    def verified(self) -> bool:
        return self.finding_gone and self.not_worse and self.improved

    def summary(self) -> str:
        fixes = " + ".join(f"{name} ({FIXES[name].label})" for name in self.fixes)
        fixes = f"{fixes}" if len(self.fixes) == 1 else f"{fixes}, together"
        gone = "gone" if self.finding_gone else f"still there ({self.finding})"
        remaining = [f for f in self.after.finding_ids if f != self.finding]
        rest = f"; other findings after: {', '.join(remaining)}" if remaining else ""
        verdict = "VERIFIED" if self.verified else "NOT VERIFIED"
        return (
            f"{verdict}: fix {fixes} over {self.after.steps} steps: test accuracy "
            f"{_acc(self.before.test_accuracy)} -> {_acc(self.after.test_accuracy)}, finding {gone}{rest}"
        )

    def to_dict(self) -> dict:
        def outcome(o: Outcome) -> dict:
            return {
                "test_accuracy": o.test_accuracy,  # NaN is written as null: core.schema.json_safe
                "test_loss": o.test_loss,
                "steps": o.steps,
                "findings": list(o.finding_ids),
                "primary": o.primary,
            }

        return {
            "finding": self.finding,
            "fixes": list(self.fixes),
            "before": outcome(self.before),
            "after": outcome(self.after),
            "finding_gone": self.finding_gone,
            "improved": self.improved,
            "verified": self.verified,
        }


def train_and_diagnose(
    config: RunConfig, *, data, logdir=None, run_name: str = "",
    on_step: Callable | None = None, stop=None,
) -> tuple[object, Diagnosis]:
    """Train config (core.runs.recipe.record_run) and diagnose the run it recorded: (RunResult, Diagnosis)."""
    from core.runs.recipe import record_run

    result = record_run(config, data=data, logdir=logdir, run_name=run_name, on_step=on_step, stop=stop)
    return result, diagnose(result.history)


def fix_to_verify(diagnosis: Diagnosis) -> tuple[Finding, tuple[str, ...]] | None:
    """The primary finding and its first repair (one fix, or fixes that go together), or None."""
    primary = diagnosis.primary
    if primary is None or not primary.first_repair:
        return None
    return primary, primary.first_repair


def verify(
    config: RunConfig,
    diagnosis: Diagnosis,
    *,
    before: Outcome | None = None,
    fixes: tuple[str, ...] | None = None,
    steps: int | None = None,
    data=None,
    on_step: Callable | None = None,
    stop=None,
) -> Verification | None:
    """Re-run config with the suggested fix (or `fixes`) for `steps` (default: config.steps).

    `before` is the outcome of the run as it was; it is trained again when not given.
    Returns None when there is nothing to verify (no finding, or one without a fix).
    """
    chosen = fix_to_verify(diagnosis)
    if chosen is None:
        return None
    finding, suggested = chosen
    fixes = tuple(fixes) if fixes else suggested
    steps = steps or config.steps
    if data is None:
        from core.data.mnist import load_mnist

        data = load_mnist()
    if before is None:
        result, before_diagnosis = train_and_diagnose(config.replace(steps=steps), data=data, stop=stop)
        before = Outcome.of(result.history, before_diagnosis, result.steps_done)
    fixed = configure(config, fixes, steps=steps)
    result, after_diagnosis = train_and_diagnose(fixed, data=data, on_step=on_step, stop=stop)
    return Verification(finding.id, fixes, before, Outcome.of(result.history, after_diagnosis, result.steps_done))


def logged_config(history: History) -> RunConfig | None:
    """The RunConfig a tblab run logged (None for other programs' logs, or an unreadable one)."""
    logged = history.facts.config
    if not logged:
        return None
    try:
        return RunConfig.from_dict(logged)
    except (ValueError, TypeError):
        return None


def logged_steps(history: History) -> int:
    return history.last_step() + 1


def _acc(value: float) -> str:
    return f"{value:.4f}" if math.isfinite(value) else "n/a"

