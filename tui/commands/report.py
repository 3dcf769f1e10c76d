"""`tblab report [SCENARIO_OR_SCRIPT ...] --out DIR`: the hand-in notebook, from real runs of
each scenario or script, as handed out and with the doctor's fixes applied."""

from __future__ import annotations

import sys
from pathlib import Path

from core.runs.runner import DEFAULT_LOG_ROOT
from tui.commands import capped_jobs, cores, count_problem
from tui.commands.output import writable_problem

CLASSIC = ("fail1", "fail2", "fail3", "fail4", "fail5")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("report", help="write the hand-in (notebook, Markdown, figures) from real runs")
    p.add_argument("targets", nargs="*", metavar="SCENARIO_OR_SCRIPT",
                   help="scenario names, scenario files or your own training scripts (default: the five classic scenarios)")
    p.add_argument("--out", type=Path, default=Path("handin"), help="folder for report.ipynb, report.md and figures/")
    p.add_argument("--steps", type=int, help="steps per run (default: each scenario's or script's own)")
    p.add_argument("--jobs", type=int, default=cores(), help="parallel processes, at most the core count (default: cores)")
    p.add_argument("--logdir", type=Path, default=DEFAULT_LOG_ROOT, help="log root (default: logs)")
    p.add_argument("--data", help="a Keras mnist.npz or a folder of the four IDX files")
    p.add_argument("--from-lab", action="store_true", help="write the before/after pairs kept in the lab (key h)")
    p.set_defaults(func=run)


def out_dir_problem(path: Path) -> str:
    """Why DIR cannot hold the hand-in ("" when it can), before any run starts."""
    if path.exists() and not path.is_dir():
        return f"--out {path} is a file; give a folder"
    if problem := writable_problem(path, path):
        return problem
    if path.suffix.lower() in (".md", ".ipynb") and not path.exists():
        return f"--out {path}: give a folder; the hand-in is DIR/report.ipynb, DIR/report.md and DIR/figures/"
    return ""


def resolve_targets(names: list[str]):
    """Targets for the arguments; raises ValueError with a one-line message."""
    from core.runs.handin.attempts import SCENARIO, SCRIPT, Target
    from core.schema.scenario import ScenarioError, find_scenario, load_file

    targets = []
    for name in names or CLASSIC:
        path = Path(name)
        paths = sorted(p for p in path.glob("*.py") if not p.name.startswith("_")) if path.is_dir() else [path]
        for one in paths:
            if one.is_file():
                loaded = load_file(one)
                if loaded.error:
                    raise ValueError(loaded.error)
                targets.append(Target(SCRIPT, str(one), one.name) if loaded.script
                               else Target(SCENARIO, str(one), loaded.scenario.name))
                continue
            try:
                scenario = find_scenario(name)
            except ScenarioError as error:
                raise ValueError(str(error)) from None
            targets.append(Target(SCENARIO, scenario.path, scenario.name))
    seen: dict[str, int] = {}
    unique = []
    for target in targets:  # two fail1.py from different folders keep apart
        seen[target.name] = seen.get(target.name, 0) + 1
        name = target.name if seen[target.name] == 1 else f"{target.name} ({seen[target.name]})"
        unique.append(Target(target.kind, target.path, name))
    return unique


def _say_row(job, row, seconds: float) -> None:
    fixes = "+".join(job.fixes) or "as-is"
    measured = row.test_accuracy == row.test_accuracy  # not NaN
    result = row.error or (f"test accuracy {row.test_accuracy:.4f}" if measured else "no test accuracy")
    print(f"  {job.target.name:<16} {fixes:<22} {result}  ({seconds:.0f} s)", flush=True)


def run(args) -> int:
    from core.system.tfquiet import import_tensorflow_quietly

    if problem := count_problem(args, "jobs", "steps") or out_dir_problem(args.out):
        print(f"tblab: {problem}", file=sys.stderr)
        return 2
    if args.from_lab:
        if args.targets:
            print("tblab: --from-lab writes the lab's pairs; give it no scripts", file=sys.stderr)
            return 2
        return _from_lab(args)
    args.jobs, notice = capped_jobs(args.jobs)
    if notice:
        print(f"tblab: {notice}", file=sys.stderr)
    try:
        targets = resolve_targets(args.targets)
    except ValueError as error:
        print(f"tblab: {error}", file=sys.stderr)
        return 2
    import_tensorflow_quietly()  # the event reader loads TensorFlow; keep its chatter off the terminal
    from core.runs.report import HandinRequest, build_handin

    request = HandinRequest(tuple(targets), args.out, args.steps, args.logdir, args.data, args.jobs)
    print(f"report: {len(targets)} scripts, {args.jobs} processes", flush=True)
    result = build_handin(request, on_row=_say_row)
    return _done(result, args.out)


def _done(result, out: Path) -> int:
    for path in result.files:
        print(f"written: {path}")
    if result.stopped:
        print("tblab: interrupted; the runs that finished are in the report", file=sys.stderr)
        return 130
    return 0


def _from_lab(args) -> int:
    from core.runs.handin.labfile import HandinFileError, handin_path

    try:
        from core.runs.report import build_from_lab

        result = build_from_lab(args.logdir, args.out)
    except HandinFileError as error:
        print(f"tblab: {error}", file=sys.stderr)
        return 2
    if not result.entries:
        print(f"tblab: the lab's hand-in ({handin_path(args.logdir)}) holds no runs yet: press h in the lab after a fix",
              file=sys.stderr)
        return 2
    return _done(result, args.out)
