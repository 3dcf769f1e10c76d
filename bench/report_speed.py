"""Wall time of the hand-in on the five course-style scripts: `tblab report examples/fail1.py
... examples/fail5.py --jobs 2` (the target: under 3 minutes on 2 cores at the scripts'
own 2000 steps). Each run's line (as `tblab report` prints it) is echoed with its time.

    python bench/report_speed.py [--steps N] [--jobs 2]

Not measured yet on a quiet machine. Seen while five helpers shared 2 cores (load 6-12):
--steps 300: 262 s and 288 s for the 13 runs (5 as handed out, 8 with fixes); --steps 20: 221 s,
so under load the start-up of each run (a child process importing TensorFlow) dominates.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = [ROOT / "examples" / f"fail{i}.py" for i in range(1, 6)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, help="steps per run (default: the scripts' own)")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "tui.cli", "report", *map(str, SCRIPTS), "--out", f"{tmp}/handin",
                   "--logdir", f"{tmp}/logs", "--jobs", str(args.jobs)]
        if args.steps:
            command += ["--steps", str(args.steps)]
        started = time.perf_counter()
        result = subprocess.run(command, cwd=ROOT, text=True, capture_output=True)
        seconds = time.perf_counter() - started
        print(result.stdout, end="")
        if result.returncode:
            print(result.stderr, file=sys.stderr)
            return result.returncode
        figures = len(list(Path(tmp, "handin", "figures").glob("*.png")))
    print(f"tblab report on {len(SCRIPTS)} scripts, --jobs {args.jobs}, steps {args.steps or 'their own'}: "
          f"{seconds:.0f} s, {figures} figures")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
