"""Running a scenario file on its own (`python fails/fail1.py`), like the classic handout."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.runs.runner import DEFAULT_LOG_ROOT, RunRequest, execute


def main(scenario, argv: list[str] | None = None) -> int:
    """Train `scenario` from the command line (`python fails/fail1.py --steps 500`)."""
    parser = argparse.ArgumentParser(prog=Path(scenario.path or scenario.name).name, description=scenario.title)
    parser.add_argument("--steps", type=int)
    parser.add_argument("--fix", action="append", default=[])
    parser.add_argument("--logdir", type=Path, default=DEFAULT_LOG_ROOT)
    parser.add_argument("--data")
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's own log lines")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    return execute(RunRequest(scenario, tuple(args.fix), args.steps, args.logdir, args.data, verbose=args.verbose))
