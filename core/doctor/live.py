"""LiveDoctor: the doctor riding along a training run.

Fed one StepRecord per step, it checks the rules every few steps on a bounded
window of the History, reports each finding once (with the step it was first
seen), and keeps its own cost under a share of the training time by spacing its
checks out when they get expensive. A NaN is checked for on every step, at the
cost of two comparisons.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from core.doctor import thresholds as T
from core.doctor.findings import Diagnosis, Finding, RuledOut, SkippedCheck
from core.doctor.refute import refutation
from core.doctor.rules import RULES, Rule, primary_finding
from core.doctor.view import RunView, run_last_step
from core.schema.class_balance import ClassBalance
from core.schema.history import History, StepRecord, blew_up


class LiveDoctor:
    """Incremental diagnosis of one run.

    `LiveDoctor(config=run_config)` keeps its own History: call `update(record)` every
    step (and `update_eval(step, scalars)` after each test-set evaluation); the config is
    optional and only tells the rules the batch size and activation, the class balance
    (optional too) the data's fingerprints. `LiveDoctor(history)`
    watches a History someone else fills: call `update(record)` after they added it.
    """

    def __init__(
        self,
        history: History | None = None,
        *,
        config=None,
        class_balance: ClassBalance | None = None,
        every: int = T.CHECK_EVERY,
        budget: float | None = T.CHECK_BUDGET,
        rules: tuple[Rule, ...] = RULES,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.history = history if history is not None else History()
        self._owns_history = history is None
        facts = self.history.facts
        if config is not None and not facts.config:
            facts = facts.but(config=config.to_dict())  # batch size and activation, for the rules
        if class_balance is not None and facts.class_balance is None:
            facts = facts.but(class_balance=class_balance)
        self.history.facts = facts
        self.base_every = max(1, every)
        self.every = self.base_every
        self.budget = budget
        self.rules = rules
        self.clock = clock
        self.first_seen: dict[str, Finding] = {}  # as first reported
        self.latest: dict[str, Finding] = {}  # with the most recent evidence
        self.detected_at: dict[str, int] = {}  # step of the check that first found it
        self.last_present: set[str] = set()
        self.ruled_out: dict[str, RuledOut] = {}  # signs seen, but the log contradicts the cause
        self.check_seconds = 0.0  # time spent checking
        self.seconds = 0.0  # all time spent in update(): taking records and checking
        self.checks = 0
        self._pending: list[StepRecord] = []
        self._final: int | None = None  # the step finish() checked up to
        self._next_check = 0
        self._since = clock()

    # --- feeding ------------------------------------------------------------------------
    def update(self, record: StepRecord) -> list[Finding]:
        """Take one training step's record; return the findings new at this step."""
        entered = self.clock()
        if self._owns_history:
            self._pending.append(record)  # moved into the History at the next check, in bulk
        new = []
        if (blew_up(record.scalars) and "nonfinite" not in self.first_seen) or record.step >= self._next_check:
            new = self.check(record.step)
        self.seconds += self.clock() - entered
        return new

    def update_eval(self, step: int, scalars: dict[str, float]) -> None:
        """Take a test-set evaluation (used by the rules that compare train and test)."""
        if self._owns_history:
            self.history.add_val(step, scalars)

    def finish(self) -> list[Finding]:
        """A last check on everything recorded (every rule, even those already found);
        returns findings new at the end."""
        self._flush()
        last = run_last_step(self.history)
        # A test evaluation after the last training step (`step=STEPS` once training is done) is
        # the run's final test result: the last check sees it.
        last = max([last, *(series.steps[-1] for series in self.history.val.values() if series.steps)])
        self._final = last
        return self.check(last, recheck=True) if last >= 0 else []

    # --- checking -------------------------------------------------------------------------
    def check(self, upto: int | None = None, *, recheck: bool = False) -> list[Finding]:
        started = self.clock()
        self._flush()
        flushed = self.clock()
        view = RunView(self.history, upto)
        new = []
        present = set()
        for rule in self.rules:
            if rule.sticky and rule.id in self.first_seen and not recheck:
                present.add(rule.id)
                continue
            if not rule.runnable(view):
                continue
            finding = rule.run(view)
            if isinstance(finding, RuledOut):
                self.ruled_out[finding.id] = finding
                continue
            if finding is None:
                continue
            self.ruled_out.pop(finding.id, None)  # its signs are back and nothing contradicts them
            present.add(finding.id)
            self.latest[finding.id] = finding
            if finding.id not in self.first_seen:
                self.first_seen[finding.id] = finding
                self.detected_at[finding.id] = view.upto
                new.append(finding)
        if recheck:
            self._rule_out_transient(view, present)
        self.last_present = present
        finished = self.clock()
        cost = finished - started
        self.check_seconds += cost
        self.checks += 1
        # Pace on the rules' cost only: moving records in grows with the interval itself.
        self._pace(finished - flushed, started - self._since)
        self._since = finished
        self._next_check = view.upto + self.every
        return sorted(new, key=Finding.rank)

    def _rule_out_transient(self, view: RunView, present: set[str]) -> None:
        """Findings seen earlier but not at the end, checked against everything the log holds now
        (an end-of-run test accuracy can contradict what the start suggested)."""
        for finding_id, finding in self.latest.items():
            if finding_id in present or finding_id in self.ruled_out:
                continue
            reason = refutation(finding_id, view)
            if reason:
                self.ruled_out[finding_id] = RuledOut(finding_id, finding.title, reason)

    def _flush(self) -> None:
        """Move pending records into the History, in bulk."""
        pending, self._pending = self._pending, []
        self.history.add_many(pending)

    def _pace(self, cost: float, worked: float) -> None:
        """Double the interval when a check costs more than the budget of the time since the last."""
        if self.budget is None or worked <= 0:
            return
        if cost > self.budget * worked and self.every < T.CHECK_EVERY_MAX:
            self.every = min(T.CHECK_EVERY_MAX, self.every * 2)
        elif cost * T.CHECK_RELAX < self.budget * worked and self.every > self.base_every:
            self.every = max(self.base_every, self.every // 2)

    # --- results ------------------------------------------------------------------------------
    def findings(self) -> list[Finding]:
        """Every finding so far, with its latest evidence and the step it was first seen."""
        self._flush()
        merged = []
        for finding_id, latest in self.latest.items():
            if finding_id in self.ruled_out:
                continue  # later data contradicts it: dropped, and listed as ruled out
            first = self.first_seen[finding_id]
            merged.append(_with_step(latest, min(first.step, latest.step)))
        return sorted(merged, key=Finding.rank)

    def diagnosis(self) -> Diagnosis:
        findings = self.findings()
        view = RunView(self.history, self._final)
        run, skipped = [], []
        for rule in self.rules:
            if rule.runnable(view):
                run.append(rule.id)
            else:
                skipped.append(SkippedCheck(rule.id, rule.title, rule.needs_text))
        return Diagnosis(
            run=self.history.run,
            findings=tuple(findings),
            primary=primary_finding(findings),
            checks_run=tuple(run),
            checks_skipped=tuple(skipped),
            detected_at=dict(self.detected_at),
            last_step=view.upto,
            warnings=tuple(self.history.warnings),
            transient=tuple(f.id for f in findings if f.id not in self.last_present),
            step_unit=self.history.facts.step_unit,
            ruled_out=tuple(self.ruled_out.values()),
        )


def _with_step(finding: Finding, step: int) -> Finding:
    if finding.step == step:
        return finding
    from dataclasses import replace

    return replace(finding, step=step)
