"""Steps/s of a watched script (`tblab watch`) against the same script alone.

Alone: the script run by a bare runner that only serves mnist.load_data offline (there is
no network) and notes the time of each tf.GradientTape.gradient call (or Keras batch end).
Watched: the full child process with every hook, records streamed to the parent, the
parent's doctor and TensorBoard event files; timed by the arrival of the step records.
Both stop after --steps and exclude start-up (steady state: first to last step). Rounds
alternate the two; the machine is shared, so the per-round ratios' median is reported.

    python bench/watch_speed.py [--rounds 3] [--steps 800] [--scripts baseline fail1 fail4 keras_healthy]

Measured (2 shared cores, load ~1.3-1.5, medians of 3 rounds of 800 steps), before -> after the
fix of 2026-11-30: baseline 551 -> 292 (0.55x) became 548 -> 419 (0.76x); fail1 224 -> 118
(0.51x) became 250 -> 182 (0.74x); fail4 257 -> 175 (0.68x) became 266 -> 216 (0.82x);
keras_healthy 352 -> 279 (0.82x) became 345 -> 287 (0.78x, its probes unchanged).
Where the time went (baseline, CPU per step: alone 2.0 ms, watched 3.4 ms before): the
compiled statistics call cost 0.45 ms alone, of which 0.19 ms was the public call binding
~30 nested arguments in Python (now called flat); run on a second thread it cost twice that
in place (GIL and thread-pool hand-offs; now on the main thread); the non-finite counts were
a third of its ops (now NumPy, ~0.04 ms a step); a light step held its variables' reads to
the next step, so the script's update copied every variable (copy on write; now dropped);
the last, smaller batch of an epoch traced the statistics again mid-run (now one trace).
The full statistics are paced (core/watch/pacing.py): every step for the first 20, then
every k-th step, k keeping them at 10% of the step (k = 2 for the baseline, 3 for fail1);
the loss and the non-finite count stay exact at every step. The parent (doctor, event
files) uses ~0.4 ms of CPU a step, most of it in core/tensorboard/summaries.py's _template.

2026-12-04 (issue 22: every step's loss, batch accuracy and weight norms exact, at lower cost):
the batch accuracy comes from NumPy on the logits and labels the loss hook saw, the weight
norms from the same self-dot that checks the weights are finite (BLAS, ~3x a sum), so neither
adds a TensorFlow op; the full statistics take 5% of the step (was 10%); Keras fit's probe pass
is one tf.function (an eager Keras pass cost ~4 ms, ~10x) and its weights are read through the
TensorFlow variable (45 us against 145 us through Keras's .numpy()), with update ratios paced
with the probe. Where the rest goes, per part, in CPU per step of the script's main thread
(a figure that holds on a loaded machine): bench/watch_cost.py. Measured on a machine at load
5-10 on 2 cores, so only the shares mean something: the watch's part of the main thread went
from ~18% to ~12% (baseline) and from ~30% to ~13% (keras_healthy). What is left, per step:
reading the variables (one op each, ~5 us), the loss/accuracy/non-finite pass over the
gradients, the step message (JSON and a pipe write), the paced full statistics.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
sys.path.insert(0, str(ROOT))  # this checkout's core/, not an installed one

# The bare runner: data served offline, a timestamp per training step, nothing else.
ALONE = r"""
import json, runpy, sys, time
sys.path.insert(0, sys.argv[2])
from core.system.tfquiet import import_tensorflow_quietly
tf = import_tensorflow_quietly()
import keras
from core.watch.data import install_mnist_loader, mnist_loader
install_mnist_loader(mnist_loader(None, lambda source, n: None))
times = []
steps = int(sys.argv[3])
class Done(BaseException):
    pass
original = tf.GradientTape.gradient
def gradient(self, *args, **kwargs):
    times.append(time.perf_counter())
    if len(times) > steps:
        raise Done
    return original(self, *args, **kwargs)
tf.GradientTape.gradient = gradient
class Clock(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        times.append(time.perf_counter())
        if len(times) >= steps:
            self.model.stop_training = True
original_fit = keras.Model.fit
def fit(self, *args, **kwargs):
    kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), Clock()]
    return original_fit(self, *args, **kwargs)
keras.Model.fit = fit
sys.argv = [sys.argv[1]]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
except Done:
    times.pop()  # the call that stopped it did no step
print(json.dumps({"steps": len(times), "steps_per_second": (len(times) - 1) / (times[-1] - times[0])}), file=sys.stderr)
"""


def alone(script: Path, steps: int) -> float:
    result = subprocess.run(
        [sys.executable, "-c", ALONE, str(script), str(ROOT), str(steps)], cwd=ROOT, capture_output=True, text=True, check=False,
        env={**__import__("os").environ, "TBLAB_NO_DOWNLOAD": "1"},
    )
    lines = [line for line in result.stderr.splitlines() if line.startswith("{")]
    if not lines:
        raise SystemExit(f"{script.name} alone failed:\n{result.stderr[-2000:]}")
    return json.loads(lines[-1])["steps_per_second"]


def watched(script: Path, logs: Path, steps: int) -> float:
    from core.runs.watch import WatchRequest
    from core.runs.watch_headless import watch

    outcome = watch(WatchRequest(script, steps=steps), logs, say=lambda text: None)
    return outcome.steps_per_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=800, help="training steps per run (both stop there)")
    parser.add_argument("--scripts", nargs="+", default=["baseline", "fail1", "fail4", "keras_healthy"])
    args = parser.parse_args()
    import os

    os.environ.setdefault("TBLAB_NO_DOWNLOAD", "1")
    results: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as logs:
        for round_ in range(args.rounds):
            for name in args.scripts:
                script = EXAMPLES / f"{name}.py"
                runs = results.setdefault(name, {"alone": [], "watched": []})
                runs["alone"].append(alone(script, args.steps))
                runs["watched"].append(watched(script, Path(logs), args.steps))
                print(f"round {round_ + 1} {name}: alone {runs['alone'][-1]:.0f} steps/s, watched {runs['watched'][-1]:.0f} steps/s "
                      f"({runs['watched'][-1] / runs['alone'][-1]:.2f}x)", flush=True)
    print("\nscript           alone    watched  ratio (median of rounds)")
    for name, runs in results.items():
        a, w = statistics.median(runs["alone"]), statistics.median(runs["watched"])
        ratios = [x / y for x, y in zip(runs["watched"], runs["alone"])]
        print(f"{name:15s} {a:7.0f} {w:9.0f}  {statistics.median(ratios):.2f}x")


if __name__ == "__main__":
    main()
