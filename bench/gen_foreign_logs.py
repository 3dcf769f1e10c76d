"""Write the labelled suite of foreign TensorBoard logs (issue 14) and its manifest.

    python bench/gen_foreign_logs.py OUT [--only NAME_PART ...] [--steps-scale 1.0] [--seed-offset 0]
                                         [--suite foreign|students|all] [--repeats 1]

OUT/<writer>/<category or healthy_i>/ holds each run's event files; OUT/manifest.json
lists every run with its label (the answer key), its settings and how it ended. The
writers are plain TensorFlow / Keras scripts (bench/foreign_logs/); nothing of tblab's
core/ or tui/ is imported, so these are logs "written by programs that are not tblab".
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from foreign_logs import keras_writer, loop_writer, mnist_sample, student_writer, tutorial_writer
from foreign_logs.inputs import prepare
from foreign_logs.student_suite import STYLES, student_suite
from foreign_logs.suite import suite

WRITERS = {"keras": keras_writer, "keras_defaults": keras_writer, "tutorial": tutorial_writer,
           **dict.fromkeys(STYLES, student_writer)}


def specs(which: str, repeats: int) -> list:
    """The runs of one suite: the foreign writers' (issue 14), the student styles' (issue 21), or both."""
    return (suite() if which in ("foreign", "all") else []) + (student_suite(repeats) if which in ("students", "all") else [])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="folder to write the logs and manifest.json into")
    parser.add_argument("--only", nargs="*", help="only runs whose name contains one of these")
    parser.add_argument("--steps-scale", type=float, default=1.0, help="scale every run's steps (quick checks)")
    parser.add_argument("--seed-offset", type=int, default=0,
                        help="shift every run's seed: a second draw of the suite, to check nothing is tuned to one")
    parser.add_argument("--suite", choices=("foreign", "students", "all"), default="foreign")
    parser.add_argument("--repeats", type=int, default=1, help="student suite: each script this many times, other seeds")
    args = parser.parse_args(argv)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)  # a shared 2-core box
    tf.config.threading.set_inter_op_parallelism_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    x_train, y_train, x_test, y_test, source = mnist_sample.load()
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {"runs": {}}
    manifest["data_source"] = source
    started = time.perf_counter()
    for spec in specs(args.suite, args.repeats):
        if args.only and not any(part in spec.name for part in args.only):
            continue
        spec = replace(spec, steps=max(50, round(spec.steps * args.steps_scale)), seed=spec.seed + args.seed_offset)
        logdir = out / spec.name
        shutil.rmtree(logdir, ignore_errors=True)
        data = prepare(spec, x_train, y_train, x_test, y_test)
        began = time.perf_counter()
        writer = WRITERS.get(spec.writer, loop_writer)
        outcome = writer.write(spec, str(logdir), *data)
        outcome["seconds"] = round(time.perf_counter() - began, 2)
        manifest["runs"][spec.name] = {"label": spec.label, "writer": spec.writer, **outcome, "spec": asdict(spec)}
        print(f"{spec.name:32s} {spec.label:16s} test acc {outcome['final_test_accuracy']:.3f} "
              f"loss {outcome['final_train_loss']:.3f}  {outcome['seconds']:.1f}s", flush=True)
        manifest_path.write_text(json.dumps(manifest, indent=1, default=str))
    print(f"wrote {out} in {time.perf_counter() - started:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
