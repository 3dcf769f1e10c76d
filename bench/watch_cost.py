"""Where a watched script's time goes: CPU per step of the watch's own parts, against the step.

Runs each example script under the watch's child process (core/watch/child.py) with timers
on the hooks' and the recorder's functions. Timers read the calling thread's CPU time
(time.thread_time), not the wall clock, so the figures hold on a loaded machine too (a
thread waiting for a core is not charged); the script's main thread is what a watched run
waits for. Steps before --warm are left out (traces, first full statistics). Records go to
/dev/null: the parent (doctor, event files) runs on another core and is not counted.

    python bench/watch_cost.py [--steps 600] [--scripts baseline fail1 fail4 keras_healthy]

"hooks share" is the watch's part of the main thread's CPU per step; 1 - share is what
watched/alone (bench/watch_speed.py) tends to on a quiet machine, where the main thread
is the bottleneck.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

# (module, owner, function, label): the watch's own work, outermost first; nested ones are detail.
TIMED = (
    ("core.watch.hooks", "Watch", "gradient", "gradient hook (all of the below)"),
    ("core.watch.variables", "VariableRegistry", "read_all", "  read the variables"),
    ("core.watch.recorder", "StepRecorder", "step", "  record the step"),
    ("core.watch.recorder", None, "light_statistics", "    loss, accuracy, non-finite (every step)"),
    ("core.watch.recorder", None, "measure_step", "    full statistics (paced)"),
    ("core.watch.recorder", None, "norms_and_nonfinite", "    weight norms, non-finite weights after"),
    ("core.watch.protocol", "Channel", "send", "    send (JSON, pipe)"),
    ("core.watch.hooks", "Watch", "activation", "  activation hooks, with the script's own op (not counted)"),
    ("core.watch.hooks", "Watch", "layer_input", "first-layer input hook"),
    ("core.watch.keras_fit", "WatchCallback", "on_train_batch_end", "Keras batch end (all of the below)"),
    ("core.watch.keras_fit", "WatchCallback", "_update_scalars", "  weights, norms, update ratios"),
    ("core.watch.keras_fit", "WatchCallback", "_probe", "  probe batch (every probe_every)"),
)


def _install_timers(state: dict, totals: dict) -> None:
    import importlib

    for module_name, owner_name, name, label in TIMED:
        module = importlib.import_module(module_name)
        owner = getattr(module, owner_name) if owner_name else module
        original = getattr(owner, name)

        def timed(*args, _original=original, _label=label, **kwargs):
            started = time.thread_time()
            try:
                return _original(*args, **kwargs)
            finally:
                if state["step"] >= state["warm"]:
                    totals[_label] += time.thread_time() - started

        setattr(owner, name, timed)


def child(spec_json: str, script: str, warm: int) -> None:
    """In the measured process: timers on, then the watch's child main on the script."""
    sys.path.insert(0, str(ROOT))
    os.environ["TBLAB_WATCH_FD"] = str(os.open(os.devnull, os.O_WRONLY))
    from core.system.tfquiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    from core.watch import child as watch_child
    from core.watch import hooks

    state, totals, marks = {"step": 0, "warm": warm}, defaultdict(float), []
    _install_timers(state, totals)
    original_done = hooks.Watch.step_done

    def step_done(self):
        state["step"] = self.step + 1
        if state["step"] >= warm:
            marks.append(time.thread_time())
        return original_done(self)

    hooks.Watch.step_done = step_done
    try:
        watch_child.main([spec_json, script])
    finally:
        steps = len(marks) - 1
        per_step = {label: seconds / steps * 1e3 for label, seconds in totals.items()} if steps > 0 else {}
        main_ms = (marks[-1] - marks[0]) / steps * 1e3 if steps > 0 else float("nan")
        print(json.dumps({"steps": steps, "main_thread_ms": main_ms, "parts_ms": per_step}), file=sys.stderr, flush=True)


def measure(script: Path, steps: int, warm: int) -> dict:
    spec = json.dumps({"steps": steps})
    result = subprocess.run(
        [sys.executable, __file__, "--child", spec, str(script), str(warm)], cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, "TBLAB_NO_DOWNLOAD": "1", "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}, check=False,
    )
    lines = [line for line in result.stderr.splitlines() if line.startswith("{")]
    if not lines:
        raise SystemExit(f"{script.name} failed:\n{result.stderr[-2000:]}")
    return json.loads(lines[-1])


def report(name: str, figures: dict) -> None:
    parts, main = figures["parts_ms"], figures["main_thread_ms"]
    outer = sum(ms for label, ms in parts.items() if not label.startswith(" "))
    print(f"\n{name}: main thread {main:.3f} ms CPU a step over {figures['steps']} steps; "
          f"hooks share {outer / main:.1%} (watched/alone on a quiet machine -> ~{1 - outer / main:.2f}x)")
    for _, _, _, label in TIMED:
        if label in parts:
            print(f"  {label:48s} {parts[label] * 1e3:8.1f} us/step")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--warm", type=int, default=50, help="steps left out at the start")
    parser.add_argument("--scripts", nargs="+", default=["baseline", "fail1", "fail4", "keras_healthy"])
    args = parser.parse_args()
    for name in args.scripts:
        report(name, measure(EXAMPLES / f"{name}.py", args.steps, args.warm))


if __name__ == "__main__":
    main()
