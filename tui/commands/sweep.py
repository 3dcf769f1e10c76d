"""`tblab sweep`: every scenario x every fix, in parallel, as one table."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from core.runs.runner import DEFAULT_LOG_ROOT
from core.runs.sweep import jobs_for, markdown_table, run_sweep
from core.schema.scenario import BUILTIN_DIR, discover


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("sweep", help="every scenario x every fix, in parallel processes")
    p.add_argument("--steps", type=int, help="steps per run (default: each scenario's, 2000)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel processes (default: cores)")
    p.add_argument("--scenarios", type=Path, default=BUILTIN_DIR, help="scenario folder (default: fails/)")
    p.add_argument("--only", action="append", default=[], help="only these scenarios (repeatable)")
    p.add_argument("--logdir", type=Path, default=DEFAULT_LOG_ROOT)
    p.add_argument("--data", help="a Keras mnist.npz or a folder of the four IDX files")
    p.add_argument("--out", type=Path, help="also write the table as Markdown here")
    p.set_defaults(func=run)


def run(args) -> int:
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

    rows = run_sweep(jobs, args.jobs, on_row)
    baseline = next((r.test_accuracy for r in rows if r.scenario == "baseline" and r.fixes == "as-is"), None)
    table = markdown_table(rows, baseline)
    wall = time.perf_counter() - started
    from core.data.mnist import load_mnist

    footer = f"\n\ndata: {load_mnist(args.data).source}; {len(rows)} runs in {wall:.0f} s on {args.jobs} processes\n"
    print("\n" + table + footer)
    if args.out:
        args.out.write_text(f"# tblab sweep\n\n{table}{footer}")
        print(f"written to {args.out}")
    return 1 if any(r.error for r in rows) else 0
