"""Verdict, Finding and Diagnosis: what the doctor says about a run, as plain frozen data.

A rule's check returns a Verdict (what it saw, in numbers); the rule names it, which
makes it a Finding; a Diagnosis is all the findings of a run plus which checks the
run's tags allowed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from core.schema.fixes import FixName, check_fix_names
from core.schema.json_safe import dumps

SEVERITIES = ("critical", "warning", "info")


@dataclass(frozen=True)
class Verdict:
    """What a rule's check saw. It carries no id or title: the rule that returned it
    names it (Rule.run), so a rule's identity is written once, in the registry."""

    severity: str  # "critical" | "warning" | "info"
    step: int  # first step at which the evidence was visible
    layers: tuple[str, ...]
    evidence: str  # the numbers, e.g. "dense_1 gradient norm 3e-08, 6 orders below output"
    explanation: str  # why it happens, for a learner
    fixes: tuple[FixName, ...]  # most likely first
    confidence: float  # 0..1
    repair: tuple[FixName, ...] = ()  # fixes that repair it together (default: the first fix alone)

    def __post_init__(self) -> None:
        check_fix_names((*self.fixes, *self.repair), "verdict")

    def named(self, id: str, title: str) -> Finding:
        return Finding(id, title, **{f.name: getattr(self, f.name) for f in fields(self)})


@dataclass(frozen=True)
class Finding:
    """One diagnosed problem, written so a learner can check it in TensorBoard."""

    id: str
    title: str
    severity: str  # "critical" | "warning" | "info"
    step: int  # first step at which the evidence was visible
    layers: tuple[str, ...]
    evidence: str  # the numbers, e.g. "dense_1 gradient norm 3e-08, 6 orders below output"
    explanation: str  # why it happens, for a learner
    fixes: tuple[str, ...]  # names in core.schema.fixes.FIXES, most likely first
    confidence: float  # 0..1
    repair: tuple[str, ...] = ()  # fixes that repair it together (default: the first fix alone)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"finding {self.id}: severity must be one of {SEVERITIES}")
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"finding {self.id}: confidence must be in [0, 1]")

    @property
    def first_repair(self) -> tuple[str, ...]:
        """What to apply (together) to repair it: re-run by `tblab diagnose --verify`."""
        return self.repair or self.fixes[:1]

    def rank(self) -> tuple[int, float]:
        """Sort key: most severe first, then most confident."""
        return (SEVERITIES.index(self.severity), -self.confidence)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["layers"] = list(self.layers)
        data["fixes"] = list(self.fixes)
        data["repair"] = list(self.first_repair)
        return data


@dataclass(frozen=True)
class SkippedCheck:
    """A check the run's tags did not allow, and what it would have needed."""

    id: str
    title: str
    needs: str


@dataclass(frozen=True)
class RuledOut:
    """A cause a rule's signs pointed to, dropped because the log contradicts what it must show."""

    id: str
    title: str
    reason: str  # the consequence the log refutes, in its numbers


@dataclass(frozen=True)
class Diagnosis:
    """The doctor's verdict on one run."""

    run: str
    findings: tuple[Finding, ...]  # sorted: severity, then confidence
    primary: Finding | None  # the root cause a learner should fix first
    checks_run: tuple[str, ...]
    checks_skipped: tuple[SkippedCheck, ...]
    detected_at: dict[str, int] = field(default_factory=dict)  # finding id -> step the doctor first said it
    last_step: int = -1
    warnings: tuple[str, ...] = ()
    transient: tuple[str, ...] = ()  # ids seen during the run but no longer at its end
    step_unit: str = "step"  # "epoch" for Keras logs that only hold epoch values
    ruled_out: tuple[RuledOut, ...] = ()  # considered and ruled out: the log contradicts them

    @property
    def healthy(self) -> bool:
        return not self.findings

    def get(self, finding_id: str) -> Finding | None:
        return next((f for f in self.findings if f.id == finding_id), None)

    def to_dict(self) -> dict:
        return {
            "run": self.run,
            "healthy": self.healthy,
            "primary": self.primary.id if self.primary else None,
            "findings": [
                {**f.to_dict(), "detected_at_step": self.detected_at.get(f.id)} for f in self.findings
            ],
            "checks_run": list(self.checks_run),
            "checks_skipped": [asdict(s) for s in self.checks_skipped],
            "last_step": self.last_step,
            "warnings": list(self.warnings),
            "transient": list(self.transient),
            "step_unit": self.step_unit,
            "ruled_out": [asdict(r) for r in self.ruled_out],
        }

    def to_json(self) -> str:
        return dumps(self.to_dict(), indent=2, default=str)
