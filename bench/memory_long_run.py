"""Memory of a long headless run: `tblab run` for 200k steps (a small MLP, so it finishes in
minutes), its resident set size sampled from /proc while it trains.

Before the History was bounded, RSS grew ~2.3 KB per step (every value of ~60 tags kept
twice, in the run's History and the live doctor's). Now it should be flat after warm-up.

    python bench/memory_long_run.py [--steps 200000] [--units 32]

Prints RSS over steps and the growth per 1000 steps after the first 10% of the run.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = """
from core.schema.config import RunConfig
from core.schema.scenario import Scenario

SCENARIO = Scenario(
    name="longrun", title="long run", symptom="-", diagnosis="-",
    config=RunConfig(hidden_layers=2, hidden_units={units}, activation="relu", init="he", steps={steps}),
)
"""
STEP_LINE = re.compile(r"^step (\d+):")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--every", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--repo", type=Path, default=ROOT, help="the tblab checkout to run (e.g. an older one, to compare)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tblab-memory-") as tmp:
        scenario = Path(tmp) / "longrun.py"
        scenario.write_text(SCENARIO.format(units=args.units, steps=args.steps))
        command = [sys.executable, "-m", "tui.cli", "run", str(scenario), "--logdir", str(Path(tmp) / "logs")]
        # stdout is not a terminal: the run prints "step N: ..." every 100 steps.
        process = subprocess.Popen(command, cwd=args.repo, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
        samples: list[tuple[int, float, int]] = []  # (step, seconds, RSS KiB)
        started = time.monotonic()
        last_sample = 0.0
        step = 0
        for line in process.stdout:
            if match := STEP_LINE.match(line):
                step = int(match[1])
            now = time.monotonic() - started
            if now - last_sample >= args.every and step:
                try:
                    samples.append((step, now, rss_kib(process.pid)))
                except OSError:
                    break
                last_sample = now
        process.wait()
        tail = line.strip() if samples else ""
    if process.returncode != 0 or len(samples) < 3:
        print(f"run failed (exit {process.returncode}); {len(samples)} samples", file=sys.stderr)
        return 1
    print(f"{args.repo}: tblab run, {args.steps} steps, 2x{args.units} ReLU MLP, event files written; RSS sampled every {args.every:.0f} s")
    print(f"{'step':>8} {'seconds':>8} {'RSS MiB':>8}")
    shown = samples[:: max(1, len(samples) // 20)] + samples[-1:]
    for step, seconds, rss in shown:
        print(f"{step:>8} {seconds:>8.0f} {rss / 1024:>8.1f}")
    warm = [s for s in samples if s[0] >= args.steps // 10] or samples
    first, last = warm[0], warm[-1]
    growth = (last[2] - first[2]) / max(last[0] - first[0], 1) * 1000
    peak = max(s[2] for s in samples)
    print(f"RSS after warm-up (step {first[0]}): {first[2] / 1024:.1f} MiB; at step {last[0]}: {last[2] / 1024:.1f} MiB; "
          f"peak {peak / 1024:.1f} MiB; growth {growth:.1f} KiB per 1000 steps")
    print(f"last line: {tail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
