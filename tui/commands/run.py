"""`tblab run NAME_OR_SCRIPT`: one scenario, headless, with fixes."""

from __future__ import annotations

import sys
from pathlib import Path

from core.runs.runner import DEFAULT_LOG_ROOT, RunRequest, execute
from core.schema.scenario import ScenarioError, find_scenario
from tui.commands import count_problem, fixes_problem, folder_problem


def add_parser(subparsers) -> None:
    from core.schema.fixes import FIXES

    p = subparsers.add_parser("run", help="train a scenario headless, with fixes")
    p.add_argument("scenario", help="a scenario name (fail1, baseline, ...) or a path to a scenario .py file")
    p.add_argument("--fix", action="append", default=[], choices=list(FIXES), help="apply a fix (repeatable)")
    p.add_argument("--steps", type=int, help="training steps (default: the scenario's)")
    p.add_argument("--seed", type=int, help="random seed (default: the scenario's)")
    p.add_argument("--logdir", type=Path, default=DEFAULT_LOG_ROOT, help="log root (default: logs)")
    p.add_argument("--data", help="a Keras mnist.npz or a folder of the four IDX files")
    p.add_argument("--scenarios", type=Path, action="append", default=[], help="another folder of scenarios (repeatable)")
    p.add_argument("--json", action="store_true", help="print one JSON object at the end")
    p.add_argument("--verbose", action="store_true", help="show TensorFlow's own log lines (else in LOGDIR/tblab-run.log)")
    p.set_defaults(func=run)


def run(args) -> int:
    problem = (count_problem(args, "steps") or fixes_problem(args.fix)
               or next((p for folder in args.scenarios if (p := folder_problem(folder, "--scenarios"))), ""))
    if problem:
        print(f"tblab: {problem}", file=sys.stderr)
        return 2
    try:
        scenario = find_scenario(args.scenario, args.scenarios)
    except ScenarioError as error:
        print(f"tblab: {error}", file=sys.stderr)
        return 2
    request = RunRequest(scenario, tuple(args.fix), args.steps, args.logdir, args.data, args.seed, verbose=args.verbose)
    return execute(request, as_json=args.json)
