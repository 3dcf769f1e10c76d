"""`tblab watch SCRIPT.py [OPTIONS] [-- SCRIPT ARGS]`: your own training script, unmodified,
under tblab's instruments. Bad input (the script's path, --data, fixes) is refused with
its exact reason before TensorFlow is imported or the script starts."""

from __future__ import annotations

import sys
from pathlib import Path

from core.runs.watch import WatchRequest
from tui.commands import count_problem, data_problem, file_problem, fixes_problem

DEFAULT_IDLE_TIMEOUT_S = 120.0


def add_parser(subparsers) -> None:
    from core.schema.fixes import FIXES

    p = subparsers.add_parser(
        "watch", help="run your own TensorFlow script (GradientTape loop or Keras fit) under tblab's instruments",
        usage="tblab watch SCRIPT.py [options] [-- SCRIPT_ARGS...]",
        description="Runs SCRIPT unmodified in a child process: records, TensorBoard events and the doctor, "
        "as for tblab's own scenarios. Arguments after -- go to the script, as its sys.argv[1:].",
    )
    p.add_argument("script", type=Path, help="a Python training script")
    p.add_argument("--fix", action="append", default=[], choices=list(FIXES), help="apply a fix by patch (repeatable)")
    p.add_argument("--steps", type=int, help="stop the script cleanly after this many training steps (default: its own end)")
    p.add_argument("--logdir", type=Path, default=Path("logs"), help="log root (default: logs)")
    p.add_argument("--data", help="a Keras mnist.npz or a folder of the four IDX files, served to mnist.load_data()")
    p.add_argument("--idle-timeout", type=float, default=DEFAULT_IDLE_TIMEOUT_S, metavar="SECONDS",
                   help="stop the script, with a notice, after this long without a training step; 0: never "
                   f"(default: {DEFAULT_IDLE_TIMEOUT_S:g})")
    p.add_argument("--json", action="store_true", help="print one JSON object at the end")
    p.set_defaults(func=run, script_args=[])


def run(args) -> int:
    problem = (file_problem(args.script) or count_problem(args, "steps") or fixes_problem(args.fix)
               or ("" if args.idle_timeout >= 0 else "--idle-timeout must be >= 0 (0: never)") or data_problem(args.data))
    if problem:
        print(f"tblab: {problem}", file=sys.stderr)
        return 2
    from core.runs.watch_headless import execute_watch

    request = WatchRequest(args.script, tuple(args.fix), args.steps, args.data, tuple(args.script_args))
    return execute_watch(request, args.logdir, as_json=args.json, idle_timeout=args.idle_timeout or None)
