"""The Markdown of the hand-in: the summary table and one section per script (symptom as
observed, the doctor's cause, the fix as a diff of the learner's file, before -> after,
other fixes that also work). Every number comes from the runs; layer names are the
script's own; no `nan` and no machine path is ever written."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.runs.handin.attempts import Attempt, Target
from core.runs.handin.choose import Choice, test_accuracy
from core.runs.handin.diff import FixChange
from core.runs.handin.evidence import evidence, last_test
from core.runs.handin.figures import Figure
from core.runs.handin.names import accuracy, fmt, plain, rename
from core.schema.fixes import FIXES
from core.schema.tags import CHANCE_LOSS, SOFTMAX_FLOOR

FIGURES = "figures"


@dataclass
class Entry:
    """Everything one section is written from."""

    target: Target
    before: Attempt
    tried: list[Attempt] = field(default_factory=list)
    choice: Choice | None = None
    names: dict[str, str] = field(default_factory=dict)  # layer -> the script's name
    change: FixChange | None = None
    figures: list[Figure] = field(default_factory=list)
    note: str = ""
    stopped: bool = False  # the report was stopped before this script's fixed runs finished


def _steps(attempt: Attempt) -> int:
    return attempt.history.last_step() + 1 if attempt.history is not None else attempt.row.steps_done


def _fixes(fixes: tuple[str, ...]) -> str:
    return " + ".join(f"`{fix}`" for fix in fixes) or "none"


def _at_chance(ev) -> bool:
    return abs(ev.final_loss - CHANCE_LOSS) < 0.05 and ev.train_accuracy < 0.2


def short_symptom(entry: Entry) -> str:
    ev = evidence(entry.before.history)
    if ev.first_nonfinite_step is not None:
        return f"loss non-finite from step {ev.first_nonfinite_step}"
    if _at_chance(ev):
        return f"loss at chance for all {_steps(entry.before)} steps"
    return f"loss {fmt(ev.final_loss)} after {_steps(entry.before)} steps"


def symptom(entry: Entry) -> str:
    ev, steps = evidence(entry.before.history), _steps(entry.before)
    said = f"The script ran {steps} steps. The loss started at {fmt(ev.first_loss)}"
    if ev.first_nonfinite_step is not None:
        said += f" and was non-finite (not a number, or infinite) from step {ev.first_nonfinite_step} on."
    elif _at_chance(ev):
        said += f" and stayed at chance (ln 10 = {CHANCE_LOSS:.2f}): {fmt(ev.final_loss)} over the last 10% of the steps."
    elif _found(entry.before, "loss_floor"):
        said += (f" and levelled off at {fmt(ev.final_loss)}, at the floor a softmax applied twice puts under the loss "
                 f"(ln(1 + 9/e) = {SOFTMAX_FLOOR:.3f}).")
    else:
        said += f" and ended at {fmt(ev.final_loss)} (mean of the last 10% of the steps)."
    said += f" Batch accuracy at the end: {accuracy(ev.train_accuracy)}; {_test_phrase(entry.before)}."
    return said


def _found(attempt: Attempt, finding_id: str) -> bool:
    return attempt.diagnosis is not None and attempt.diagnosis.get(finding_id) is not None


def _test_phrase(attempt: Attempt) -> str:
    step, _ = last_test(attempt.history) if attempt.history is not None else (None, None)
    value = accuracy(test_accuracy(attempt))
    last = _steps(attempt) - 1
    if step is not None and step < last - 1:
        return f"test accuracy {value} (the script's last test evaluation, at step {step})"
    return f"test accuracy {value}"


def cause(entry: Entry) -> list[str]:
    diagnosis = entry.before.diagnosis
    if diagnosis is None or diagnosis.primary is None:
        return ["The doctor found nothing wrong in this run's logs."]
    primary = diagnosis.primary
    step = diagnosis.detected_at.get(primary.id, primary.step)
    lines = [f"The doctor's finding: **{plain(primary.title)}**, visible from step {step}.",
             "", f"What it saw: {_text(primary.evidence, entry)}.", "", _text(primary.explanation, entry) + "."]
    others = [f for f in diagnosis.findings if f is not primary]
    if others:
        noted = "; ".join(f"{plain(f.title.lower())} ({_text(f.evidence, entry)})" for f in others)
        lines += ["", f"It also noted: {noted}."]
    return lines


def _text(text: str, entry: Entry) -> str:
    return plain(rename(text.strip().rstrip("."), entry.names))


def fix_part(entry: Entry) -> list[str]:
    choice = entry.choice
    if entry.stopped and not entry.tried:
        return ["The report was stopped before a fixed run of this script finished."]
    if choice is None or not entry.tried:
        return ["No fix was tried: the doctor suggested none that applies to this script."]
    lines = []
    if choice.first_failed is not None:
        tried = choice.first_failed
        lines.append(f"The doctor's first fix, {_fixes(tried.fixes)}, did not repair the run "
                     f"({_outcome(entry.before, tried)}); "
                     + ("the next one that did is below." if choice.fix else "neither did the others."))
    shown = choice.fix or entry.tried[0]
    lines.append(f"{'The fix' if choice.fix else 'The fix tried'}: {_fixes(shown.fixes)} "
                 f"({'; '.join(FIXES[f].label for f in shown.fixes)}). The change to your script:")
    if entry.change is not None and entry.change.diff:
        lines += ["", "```diff", entry.change.diff, "```"]
    for words in entry.change.words if entry.change is not None else ():
        lines += ["", f"No line to point at for {plain(words)}"]
    lines += ["", f"**Before -> after:** {_outcome(entry.before, shown)}."]
    return lines


def _outcome(before: Attempt, after: Attempt) -> str:
    if not after.ok:
        return f"the fixed run failed: {plain(after.row.error)}"
    return f"{_test_phrase(before)} -> {_test_phrase(after).removeprefix('test accuracy ')}, over {_steps(after)} steps"


def others(entry: Entry) -> list[str]:
    choice = entry.choice
    if choice is None:
        return []
    lines = []
    if choice.also_work:
        lines += ["**Other fixes that also work:**", ""]
        lines += [f"- {_fixes(a.fixes)}: test accuracy {accuracy(test_accuracy(a))}" for a in choice.also_work]
    failed = [a for a in choice.did_not if a is not choice.first_failed and a is not (choice.fix or entry.tried[0])]
    if failed:
        lines += ["", "**Tried, did not repair the run:**", ""]
        lines += [f"- {_fixes(a.fixes)}: " + (f"test accuracy {accuracy(test_accuracy(a))}" if a.ok else plain(a.row.error))
                  for a in failed]
    return lines


def section(entry: Entry) -> str:
    title = entry.target.name
    if not entry.before.ok:
        return f"## {title}\n\nThe run failed, so there is nothing to report: {plain(entry.before.row.error)}\n"
    parts = [f"## {title}", "", f"**Symptom.** {symptom(entry)}", "", "**Cause.**", "", *cause(entry), "",
             "**Fix.**", "", *fix_part(entry)]
    if entry.note:
        parts += ["", f"Note: {plain(entry.note)}"]
    extra = others(entry)
    if extra:
        parts += ["", *extra]
    if entry.names:
        parts += ["", "Layers as your script names them (input side first): " + ", ".join(entry.names.values()) + "."]
    for figure in entry.figures:
        parts += ["", f"![{figure.caption}]({FIGURES}/{figure.name})", "", f"*{figure.caption}.*"]
    return "\n".join(parts) + "\n"


def summary_table(entries: list[Entry]) -> str:
    lines = ["| script | symptom | cause | fix | test accuracy before -> after |", "|---|---|---|---|---|"]
    for entry in entries:
        if not entry.before.ok:
            lines.append(f"| {entry.target.name} | the run failed | | | |")
            continue
        primary = entry.before.diagnosis.primary if entry.before.diagnosis else None
        fix = entry.choice.fix if entry.choice else None
        after = accuracy(test_accuracy(fix)) if fix else "no fix repaired it" if entry.tried else "no fix tried"
        lines.append(f"| {entry.target.name} | {short_symptom(entry)} | {plain(primary.title) if primary else 'no finding'} | "
                     f"{_fixes(fix.fixes) if fix else ''} | {accuracy(test_accuracy(entry.before))} -> {after} |")
    return "\n".join(lines)
