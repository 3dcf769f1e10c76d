"""`tblab report`: the hand-in, built from real runs of every failing scenario and its fixes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from core.runs.runner import DEFAULT_LOG_ROOT
from core.schema.scenario import BUILTIN_DIR, discover
from tui.commands import count_problem


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("report", help="write the hand-in report from real runs")
    p.add_argument("--out", type=Path, default=Path("REPORT.md"), help="the Markdown file to write (default: REPORT.md)")
    p.add_argument("--steps", type=int, help="steps per run (default: each scenario's, 2000)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel processes (default: cores)")
    p.add_argument("--scenarios", type=Path, default=BUILTIN_DIR, help="scenario folder (default: fails/)")
    p.add_argument("--only", action="append", default=[], help="only these scenarios (repeatable)")
    p.add_argument("--logdir", type=Path, default=DEFAULT_LOG_ROOT, help="log root (default: logs)")
    p.add_argument("--data", help="a Keras mnist.npz or a folder of the four IDX files")
    p.set_defaults(func=run)


def run(args) -> int:
    from core.runs.report import build_report
    from core.system.tfquiet import import_tensorflow_quietly
    from tui.commands.output import out_problem, write_out

    if problem := count_problem(args, "jobs", "steps"):
        print(f"tblab: {problem}", file=sys.stderr)
        return 2
    if problem := out_problem(args.out):  # before the runs, not after an hour of them
        print(f"tblab: {problem}", file=sys.stderr)
        return 2
    if not args.scenarios.is_dir():
        print(f"tblab: --scenarios {args.scenarios}: no such folder", file=sys.stderr)
        return 2
    import_tensorflow_quietly()  # the event reader loads TensorFlow; keep its chatter off the terminal

    loaded = [r.scenario for r in discover(args.scenarios) if r.scenario]
    baseline = next((s for s in loaded if s.name == "baseline"), None) or next(
        r.scenario for r in discover(BUILTIN_DIR) if r.scenario and r.scenario.name == "baseline"
    )
    failing = [s for s in loaded if s.expected_fixes and (not args.only or s.name in args.only)]
    if not failing:
        print("tblab: no failing scenarios to report on", file=sys.stderr)
        return 2
    print(f"report: {len(failing)} scenarios, {args.jobs} processes", flush=True)
    text = build_report(
        failing, baseline, steps=args.steps, log_root=args.logdir, data_path=args.data, workers=args.jobs,
        on_row=lambda row: print(f"  {row.scenario:<10} {row.fixes:<24} {row.error or f'{row.test_accuracy:.4f}'}", flush=True),
    )
    written = write_out(args.out, text, args.logdir)  # a finished report is never lost to a bad --out
    if written != args.out:
        return 2
    print(f"report written to {args.out}")
    return 0
