"""Running a scenario file on its own (`python fails/fail1.py`), like the classic handout."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.runner import DEFAULT_LOG_ROOT, RunRequest, execute


def run_scenario_script(scenario, argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=Path(scenario.path or scenario.name).name, description=scenario.title)
    parser.add_argument("--steps", type=int)
    parser.add_argument("--fix", action="append", default=[])
    parser.add_argument("--logdir", type=Path, default=DEFAULT_LOG_ROOT)
    parser.add_argument("--data")
    args = parser.parse_args(argv)
    return execute(RunRequest(scenario, tuple(args.fix), args.steps, args.logdir, args.data))
