"""`tblab report`: the hand-in. For each target (a scenario, or a learner's own script run
under `tblab watch`): the run as handed out, the doctor's diagnosis from its event files,
re-runs with the doctor's fixes (the first that repairs the run is the section's fix),
figures, and the sections, written to DIR/report.ipynb, DIR/report.md and DIR/figures/.

Every path written inside the hand-in is relative to DIR. On Ctrl-C the runs that
finished are still written up (HandinResult.stopped says it was cut short).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from core.runs.handin.attempts import SCENARIO, SCRIPT, Attempt, HandinJob, Target, run_jobs
from core.runs.handin.choose import candidates, choose
from core.runs.handin.evidence import Evidence, evidence  # noqa: F401 - the experiments import them from here
from core.runs.handin.names import layer_names
from core.runs.handin.notebook import write_handin
from core.runs.handin.sections import FIGURES, Entry, section, summary_table

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
INPUT_FINDINGS = ("input_noise", "input_scale")  # findings whose evidence is the input statistics


def text_plot(title: str, curves: dict[str, tuple[list[int], list[float]]], hlines: dict[str, float] = {}, width: int = 72) -> str:
    """A braille line plot as plain text (no colours), non-finite points left out (the experiments' summaries)."""
    import plotext as plt

    plt.clear_figure()
    plt.theme("clear")
    plt.plotsize(width, 16)
    plt.title(title)
    for (label, (xs, ys)), marker in zip(curves.items(), ("braille", "dot", "x", "+")):
        keep = [(x, y) for x, y in zip(xs, ys) if math.isfinite(y)]
        if keep:
            plt.plot([x for x, _ in keep], [y for _, y in keep], label=label, marker=marker)
    for label, value in hlines.items():
        plt.hline(value)
        plt.text(label, x=0, y=value)
    return "\n".join(line.rstrip() for line in _ANSI.sub("", plt.build()).splitlines())


@dataclass(frozen=True)
class HandinRequest:
    targets: tuple[Target, ...]
    out_dir: Path
    steps: int | None = None
    log_root: Path = Path("logs")
    data_path: str | None = None
    workers: int = 1
    from_lab: bool = False  # pairs of runs the learner made in the lab, not runs made here


@dataclass
class HandinResult:
    entries: list[Entry] = field(default_factory=list)
    stopped: bool = False
    files: tuple[Path, ...] = ()


def _job(request: HandinRequest, target: Target, fixes: tuple[str, ...]) -> HandinJob:
    return HandinJob(target, tuple(sorted(fixes)), request.steps, str(request.log_root / "report"), request.data_path)


def _applicable(target: Target) -> set[str] | None:
    if target.kind != SCRIPT:
        return None
    from core.watch.scan import plan_fixes, scan_script

    return {name for name, plan in plan_fixes(scan_script(target.path)).items() if plan.applies}


def _expected(target: Target) -> tuple[str, ...]:
    if target.kind != SCENARIO:
        return ()
    from core.schema.scenario import load_scenario_file

    return load_scenario_file(target.path).expected_fixes


def _run(jobs: list[HandinJob], request: HandinRequest, on_row) -> tuple[list[Attempt | None], bool]:
    try:
        return run_jobs(jobs, request.workers, on_row), False
    except KeyboardInterrupt as interrupt:
        return getattr(interrupt, "attempts", [None] * len(jobs)), True


def run_all(request: HandinRequest, on_row=None) -> HandinResult:
    """The before runs, then every target's candidate fix sets, as Entries (no files yet)."""
    befores, stopped = _run([_job(request, t, ()) for t in request.targets], request, on_row)
    entries = [Entry(t, b) for t, b in zip(request.targets, befores) if b is not None]
    for entry in entries:
        entry.names = layer_names(entry.before.row.names)
    if stopped:
        for entry in entries:
            entry.stopped = True
        return HandinResult(entries, True)
    plans = {id(e): candidates(e.before.diagnosis, _applicable(e.target), _expected(e.target)) if e.before.ok else []
             for e in entries}
    jobs = [(e, _job(request, e.target, fixes)) for e in entries for fixes in plans[id(e)]]
    fixed, stopped = _run([job for _, job in jobs], request, on_row)
    for (entry, _), attempt in zip(jobs, fixed):
        if attempt is not None:
            entry.tried.append(attempt)
    for entry in entries:
        entry.choice = choose(entry.before, entry.tried) if entry.tried else None
        entry.stopped = stopped
    return HandinResult(entries, stopped)


def _change(entry: Entry):
    from core.runs.handin.diff import FixChange, scenario_change, script_change

    shown = entry.choice.fix or entry.tried[0]
    path = Path(entry.target.path)
    if not path.is_file():
        return FixChange("", (f"{path.name} is no longer there to show the lines of",))
    source = path.read_text(errors="replace")
    if entry.target.kind == SCENARIO:
        from core.schema.scenario import load_scenario_file

        return scenario_change(source, path.name, load_scenario_file(path).config, shown.fixes)
    from core.watch.scan import plan_fixes, scan_script

    scan = scan_script(path)
    how = {name: plan.how for name, plan in plan_fixes(scan).items()}
    return script_change(source, path.name, shown.fixes, scan.initializer, how)


def _note(entry: Entry) -> str:
    if entry.target.kind != SCENARIO:
        return ""
    from core.schema.scenario import load_scenario_file

    return load_scenario_file(entry.target.path).fix_shortfall


def _figures(entry: Entry, folder: Path) -> list:
    from core.runs.handin import figures
    from core.runs.handin.evidence import ladder_step
    from core.runs.handin.images import first_images

    before = entry.before
    after = (entry.choice.fix or entry.tried[0]) if entry.choice else None
    after_history = after.history if after is not None and after.ok else None
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", entry.target.name).strip("-")
    title = entry.target.name
    made = [figures.curves(folder, f"{stem}-curves.png", title, before.history, after_history)]
    primary = before.diagnosis.primary if before.diagnosis else None
    wanted = primary.step if primary is not None else 0
    before_step = ladder_step(before.history, wanted)
    steps = (before_step, ladder_step(after_history, before_step) if after_history is not None else 0)
    made.append(figures.ladder(folder, f"{stem}-ladder.png", title, before.history, after_history, steps, entry.names))
    made.append(figures.units(folder, f"{stem}-units.png", title, before.history, after_history, entry.names))
    if any(f.id in INPUT_FINDINGS for f in (before.diagnosis.findings if before.diagnosis else ())):
        grids = [("before", first_images(before.row.logdir), evidence(before.history).input_stats)]
        if after_history is not None:
            grids.append(("after", first_images(after.row.logdir), evidence(after_history).input_stats))
        made.append(figures.inputs(folder, f"{stem}-inputs.png", title, grids))
    return [figure for figure in made if figure is not None]


def header(result: HandinResult, request: HandinRequest) -> str:
    sources = sorted({e.before.history.facts.data_source for e in result.entries if e.before.ok} - {""})
    steps = f"{request.steps} steps each" if request.steps else "each script's own number of steps"
    made = ("the runs chosen in the lab: for each script, a run before and a run after a fix"
            if request.from_lab else f"runs made for this report ({steps}, seed 0): each script as handed out, then "
            "with the doctor's fixes")
    lines = [
        "# Hand-in: why the MNIST scripts fail, and what repairs them", "",
        f"Written by `tblab report` on {dt.date.today().isoformat()}. Every number comes from {made}, applied by "
        "tblab (your file is not edited; each diff shows the edit a fix stands for). The doctor read each run's "
        "TensorBoard event files.",
    ]
    if sources:
        lines += ["", "Data: " + "; ".join(sources) + "."]
    if result.stopped:
        lines += ["", f"**Stopped before it finished:** {len(result.entries)} of {len(request.targets)} scripts are "
                  "reported, with the fixes whose runs finished."]
    return "\n".join(lines)


def write_report(result: HandinResult, request: HandinRequest) -> HandinResult:
    folder = request.out_dir / FIGURES
    folder.mkdir(parents=True, exist_ok=True)
    for entry in result.entries:
        if entry.before.ok:
            entry.change = _change(entry) if entry.tried else None
            entry.note = _note(entry)
            entry.figures = _figures(entry, folder)
    cells = [header(result, request), "## Summary\n\n" + summary_table(result.entries)]
    cells += [section(entry) for entry in result.entries]
    result.files = write_handin(request.out_dir, cells)
    return result


def build_handin(request: HandinRequest, on_row=None) -> HandinResult:
    return write_report(run_all(request, on_row), request)


def build_from_lab(log_root: Path, out_dir: Path) -> HandinResult:
    """The hand-in from the lab's pairs (core.runs.handin.labfile): no new runs, each pair's
    event files read back. Raises HandinFileError for an unreadable hand-in file."""
    from core.runs.handin.attempts import JobRow, read_attempt
    from core.runs.handin.labfile import read_pairs

    entries = []
    for pair in read_pairs(log_root):
        before, after = (read_attempt(JobRow(run.fixes, run.test_accuracy, run.logdir)) for run in (pair.before, pair.after))
        names = dict(before.history.facts.variables) if before.history is not None else {}  # what the watch logged
        entry = Entry(Target(pair.kind, pair.path, pair.name), before, [after] if after.fixes else [], layer_names(names))
        entry.choice = choose(before, entry.tried) if entry.tried else None
        entries.append(entry)
    request = HandinRequest(tuple(e.target for e in entries), out_dir, log_root=log_root, from_lab=True)
    result = HandinResult(entries)
    return write_report(result, request) if entries else result
