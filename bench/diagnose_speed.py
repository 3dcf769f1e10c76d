"""Wall time of `tblab diagnose` (issue 21's targets: one 2000-step log under 5 s; a folder of
500 runs, a class's submissions, under 60 s on 2 cores).

    python bench/gen_foreign_logs.py OUT --suite students              # 66 runs of 2000 steps
    python bench/diagnose_speed.py OUT [--runs 500] [--one students/vname/fail2] [--jobs 2]

`--one` times `tblab diagnose OUT/RUN` (a fresh process, TensorFlow's import included).
`--runs N` copies the suite's run folders round-robin into a temporary root of N runs
(`class/student_001/...`) and times `tblab diagnose ROOT --json` on it, as a teacher would run
it; the command's own summary is checked to hold N runs. `--jobs N` also times the same folder
through core.runs.many.diagnose_runs with N worker processes (a fresh process, as the command
would be once it passes --jobs on). Timings are of this machine now: measure on a quiet one.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def diagnose(path: Path, *extra: str) -> tuple[float, str]:
    command = [sys.executable, "-m", "tui.cli", "diagnose", str(path), *extra]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, text=True, capture_output=True)
    seconds = time.perf_counter() - started
    if result.returncode:
        raise SystemExit(f"tblab diagnose failed ({result.returncode}): {result.stderr.strip()[-500:]}")
    return seconds, result.stdout


def diagnose_in_workers(path: Path, jobs: int) -> tuple[float, int]:
    code = ("import sys; from core.system.tfquiet import import_tensorflow_quietly; import_tensorflow_quietly(); "
            "from core.runs.many import diagnose_runs; "
            f"print(sum(1 for _ in diagnose_runs(sys.argv[1], jobs={jobs})))")
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", code, str(path)], cwd=ROOT, text=True, capture_output=True)
    if result.returncode:
        raise SystemExit(f"diagnose_runs failed: {result.stderr.strip()[-500:]}")
    return time.perf_counter() - started, int(result.stdout.split()[-1])


def class_folder(suite: Path, runs: int, into: Path) -> int:
    """N run folders copied round-robin from the suite's runs; returns N."""
    manifest = json.loads((suite / "manifest.json").read_text())["runs"]
    sources = [suite / name for name in sorted(manifest)]
    for index in range(runs):
        shutil.copytree(sources[index % len(sources)], into / f"student_{index:03d}")
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite", type=Path, help="folder written by bench/gen_foreign_logs.py")
    parser.add_argument("--runs", type=int, default=500, help="runs in the class folder (0: skip)")
    parser.add_argument("--one", help="a run of the suite to time alone (its name in manifest.json)")
    parser.add_argument("--jobs", type=int, default=0, help="also time core.runs.many with this many workers")
    args = parser.parse_args()
    if args.one:
        seconds, _ = diagnose(args.suite / args.one)
        print(f"tblab diagnose {args.one}: {seconds:.2f} s (target < 5 s)")
    if args.runs:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "class"
            class_folder(args.suite, args.runs, root)
            seconds, out = diagnose(root, "--json", "--brief")
            found = len(json.loads(out)["runs"])
            print(f"tblab diagnose on {found} runs: {seconds:.1f} s, {seconds / max(1, found):.3f} s a run "
                  "(target < 60 s on 2 cores)")
            if args.jobs:
                seconds, found = diagnose_in_workers(root, args.jobs)
                print(f"core.runs.many.diagnose_runs(jobs={args.jobs}) on {found} runs: {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
