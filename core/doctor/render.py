"""A diagnosis as plain text for a terminal or a report: the verdict first, then the
evidence, the reason, the fixes to try, symptoms, and which checks the tags allowed."""

from __future__ import annotations

import textwrap

from core.doctor.findings import Diagnosis, Finding
from core.doctor.rules import EXPLAINED_BY
from core.schema.fixes import FIXES

WIDTH = 100


def fix_hint(fixes: tuple[str, ...], repair: tuple[str, ...] = ()) -> str:
    """`--fix a (label) --fix b (label) together, or --fix c (label)`: the repair first, then alternatives."""
    def one(name: str) -> str:
        return f"--fix {name} ({FIXES[name].label})"

    first = repair if len(repair) > 1 else ()
    parts = [" ".join(one(n) for n in first) + " together"] if first else []
    parts += [one(n) for n in fixes if n in FIXES and n not in first]
    return ", or ".join(parts)


def finding_line(finding: Finding, detected_at: int | None = None, unit: str = "step") -> str:
    seen = f"from {unit} {finding.step}"
    if detected_at is not None and detected_at != finding.step:
        seen += f", flagged at {unit} {detected_at}"
    return f"{finding.title} [{finding.severity}, confidence {finding.confidence:.2f}] {seen}"


def render_diagnosis(diagnosis: Diagnosis, *, style: str = "", explain: bool = True) -> list[str]:
    """Lines describing one run's diagnosis."""
    header = f"run {diagnosis.run or '(unnamed)'}"
    if style:
        header += f"  ({style} log, last {diagnosis.step_unit} {diagnosis.last_step})"
    lines = [header]
    primary = diagnosis.primary
    if primary is None:
        lines.append("  verdict: no problem found")
    else:
        lines.append(f"  verdict: {finding_line(primary, diagnosis.detected_at.get(primary.id), diagnosis.step_unit)}")
        lines += _wrapped("evidence", primary.evidence)
        if explain:
            lines += _wrapped("why", primary.explanation)
        if primary.fixes:
            lines += _wrapped("try", fix_hint(primary.fixes, primary.repair))
        if primary.id in diagnosis.transient:
            lines.append("    (seen during the run, no longer at its end)")
    for finding in diagnosis.findings:
        if finding is primary:
            continue
        causes = [c for c in EXPLAINED_BY.get(finding.id, ()) if diagnosis.get(c)]
        if primary is not None and primary.id in causes:
            causes.remove(primary.id)
            causes.insert(0, primary.id)  # name the root cause when it is one of the causes
        role = f"a symptom of {causes[0]}" if causes else "also"
        lines.append(f"  {role}: {finding_line(finding, diagnosis.detected_at.get(finding.id), diagnosis.step_unit)}")
        lines += _wrapped("evidence", finding.evidence, indent=6)
        if not causes and finding.fixes:
            lines += _wrapped("try", fix_hint(finding.fixes, finding.repair), indent=6)
    for ruled in diagnosis.ruled_out:
        lines += _wrapped(f"considered and ruled out: {ruled.title}", ruled.reason, indent=2)
    lines.append(f"  checks run: {', '.join(diagnosis.checks_run) or 'none'}")
    for skipped in diagnosis.checks_skipped:
        lines.append(f"  not checked: {skipped.id} (needs {skipped.needs})")
    for warning in diagnosis.warnings:
        lines.append(f"  warning: {warning}")
    return lines


def _wrapped(label: str, text: str, indent: int = 4) -> list[str]:
    prefix = " " * indent + f"{label}: "
    return textwrap.wrap(text, WIDTH, initial_indent=prefix, subsequent_indent=" " * len(prefix)) or [prefix]
