"""One doctor: the live verdict of `tblab run` / `tblab watch` against `tblab diagnose` on
the folder the run wrote, for every built-in scenario and every `examples/` script, as
handed out and with the doctor's first fix applied.

The lab's verdict is the live one (tui/run_worker.py feeds the same LiveDoctor the same
event stream and shows its final Diagnosis); tests/test_tui_learner.py checks lab =
diagnose in Textual's Pilot. This bench covers the rest of the matrix, with real
subprocesses as a learner runs them.

    python bench/one_doctor.py [--steps 300] [--jobs 2] [--only fail3 fail5.py] [--json]

Prints one row per run: what ran, the live primary finding, diagnose's, and whether they
agree (also the full finding lists). Exit 1 when any pair disagrees.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SCENARIOS = ("baseline", *(f"fail{n}" for n in range(1, 10)))
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TBLAB_NO_DOWNLOAD": "1"}


@dataclass(frozen=True)
class Case:
    target: str  # a scenario name or an examples/ script path
    fixes: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{Path(self.target).name} {'+'.join(self.fixes) or 'as-is'}"

    def command(self, steps: int, logdir: Path) -> list[str]:
        verb = "watch" if self.target.endswith(".py") else "run"
        fixes = [part for fix in self.fixes for part in ("--fix", fix)]
        return [sys.executable, "-m", "tui.cli", verb, self.target, *fixes, "--steps", str(steps),
                "--logdir", str(logdir), "--json"]


@dataclass(frozen=True)
class Row:
    case: Case
    live: str | None
    from_disk: str | None
    live_all: tuple[str, ...]
    disk_all: tuple[str, ...]
    first_fix: tuple[str, ...]
    error: str = ""

    @property
    def agree(self) -> bool:
        return not self.error and self.live == self.from_disk and self.live_all == self.disk_all


def run_case(case: Case, steps: int, root: Path) -> Row:
    """Run it as a learner would, then diagnose the folder it wrote."""
    done = subprocess.run(case.command(steps, root), capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=1800)
    try:
        summary = json.loads(done.stdout)
    except json.JSONDecodeError:
        return Row(case, None, None, (), (), (), error=(done.stderr.strip().splitlines() or ["no output"])[-1])
    diagnosed = subprocess.run([sys.executable, "-m", "tui.cli", "diagnose", summary["logdir"], "--json"],
                               capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=600)
    try:
        (disk,) = json.loads(diagnosed.stdout)["runs"]
    except (json.JSONDecodeError, KeyError, ValueError):
        return Row(case, summary.get("primary_finding"), None, (), (), (), error=diagnosed.stderr.strip()[-200:])
    live_findings = summary.get("findings") or []
    primary = next((f for f in live_findings if f["id"] == summary.get("primary_finding")), None)
    return Row(
        case, summary.get("primary_finding"), disk["primary"],
        tuple(f["id"] for f in live_findings), tuple(f["id"] for f in disk["findings"]),
        tuple(primary.get("repair") or primary.get("fixes") or ()) if primary else (),
    )


def as_handed_out(only: list[str]) -> list[Case]:
    scripts = sorted(str(p) for p in EXAMPLES.glob("*.py"))
    cases = [Case(name) for name in SCENARIOS] + [Case(path) for path in scripts]
    return [c for c in cases if not only or Path(c.target).name in only or c.target in only]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="training steps per run (default: 300)")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="runs at once (default: 2)")
    parser.add_argument("--only", nargs="*", default=[], help="scenario names or example file names")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="one-doctor-") as folder, ThreadPoolExecutor(args.jobs) as pool:
        root = Path(folder)
        first = list(pool.map(lambda c: run_case(c, args.steps, root), as_handed_out(args.only)))
        fixed_cases = [Case(r.case.target, r.first_fix) for r in first if r.first_fix]
        rows = first + list(pool.map(lambda c: run_case(c, args.steps, root), fixed_cases))
    if args.json:
        print(json.dumps([{"run": r.case.label, "live": r.live, "diagnose": r.from_disk, "agree": r.agree,
                           "live_findings": r.live_all, "diagnose_findings": r.disk_all, "error": r.error}
                          for r in rows], indent=1))
    else:
        print(f"{'run':34} {'live (run/watch)':22} {'diagnose':22} agree")
        for r in rows:
            print(f"{r.case.label[:34]:34} {str(r.live):22} {str(r.from_disk):22} {'yes' if r.agree else 'NO'}"
                  + (f"  ({r.error})" if r.error else "" if r.agree else f"  live {r.live_all} / disk {r.disk_all}"))
        print(f"agree: {sum(r.agree for r in rows)}/{len(rows)} at {args.steps} steps")
    return 0 if all(r.agree for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
