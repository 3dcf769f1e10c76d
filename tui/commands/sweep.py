"""`tblab sweep`: every scenario x every fix, in parallel, as one table."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from core.runs.runner import DEFAULT_LOG_ROOT
from core.runs.sweep import jobs_for, markdown_table, run_sweep
from core.schema.scenario import BUILTIN_DIR, discover
from tui.commands import capped_jobs, cores, count_problem, folder_problem


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("sweep", help="every scenario x every fix, in parallel processes")
    p.add_argument("--steps", type=int, help="steps per run (default: each scenario's, 2000)")
    p.add_argument("--jobs", type=int, default=cores(), help="parallel processes, at most the core count (default: cores)")
    p.add_argument("--scenarios", type=Path, default=BUILTIN_DIR, help="scenario folder (default: fails/)")
    p.add_argument("--only", action="append", default=[], help="only these scenarios (repeatable)")
    p.add_argument("--logdir", type=Path, default=DEFAULT_LOG_ROOT, help="log root (default: logs)")
    p.add_argument("--data", help="a Keras mnist.npz or a folder of the four IDX files")
    p.add_argument("--out", type=Path, help="also write the table as Markdown here")
    p.set_defaults(func=run)


def run(args) -> int:
    from tui.commands.output import out_problem, write_out

    if problem := count_problem(args, "jobs", "steps"):
        print(f"tblab: {problem}", file=sys.stderr)
        return 2
    args.jobs, notice = capped_jobs(args.jobs)
    if notice:
        print(f"tblab: {notice}", file=sys.stderr)
    if args.out is not None and (problem := out_problem(args.out)):
        print(f"tblab: {problem}", file=sys.stderr)
        return 2
    if not args.scenarios.is_dir():
        print(f"tblab: {folder_problem(args.scenarios, '--scenarios')}", file=sys.stderr)
        return 2
    results = discover(args.scenarios)
    for broken in (r for r in results if r.error):
        print(f"tblab: skipped {broken.error}", file=sys.stderr)
    scenarios = [r.scenario for r in results if r.scenario and (not args.only or r.scenario.name in args.only)]
    if not scenarios:
        print("tblab: no scenarios to sweep", file=sys.stderr)
        return 2
    jobs = jobs_for(scenarios, args.steps, args.logdir, args.data)
    print(f"sweeping {len(jobs)} runs on {args.jobs} processes", flush=True)
    started = time.perf_counter()

    def on_row(row):
        status = row.error or f"test accuracy {row.test_accuracy:.4f}"
        print(f"  {row.scenario:<10} {row.fixes:<24} {status}", flush=True)

    interrupted = None
    try:
        rows = run_sweep(jobs, args.jobs, on_row)
    except KeyboardInterrupt as interrupt:  # Ctrl-C, SIGTERM, SIGHUP: the finished rows are still written
        interrupted, rows = interrupt, interrupt.rows
    baseline = next((r.test_accuracy for r in rows if r.scenario == "baseline" and r.fixes == "as-is"), None)
    table = markdown_table(rows, baseline)
    wall = time.perf_counter() - started
    finished = sum(1 for r in rows if not r.error)
    footer = f"\n\n{finished} of {len(rows)} runs finished in {wall:.0f} s on {args.jobs} processes"
    if interrupted is None:
        from core.data.mnist import load_mnist

        footer = f"\n\ndata: {load_mnist(args.data).source}; {len(rows)} runs in {wall:.0f} s on {args.jobs} processes"
    footer += "\n"
    print("\n" + table + footer)
    written = write_out(args.out, f"# tblab sweep\n\n{table}{footer}", args.logdir) if args.out else None
    if args.out and written == args.out:
        print(f"written to {args.out}")
    if interrupted is not None:
        raise interrupted
    if args.out and written != args.out:
        return 2
    return 1 if any(r.error for r in rows) else 0
