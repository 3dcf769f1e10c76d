"""`tblab experiment NAME`: a bonus experiment (tanh vs ReLU, depth, initialisation), its
variants trained in parallel into one TensorBoard experiment folder, then a side-by-side summary."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

from core.runs.runner import DEFAULT_LOG_ROOT
from tui.commands import capped_jobs, cores, count_problem


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("experiment", help="bonus experiments: tanh vs ReLU, depth, initialisation")
    p.add_argument("name", nargs="?", help="the experiment (see --list)")
    p.add_argument("--list", action="store_true", help="list the experiments and their variants")
    p.add_argument("--steps", type=int, help="steps per variant (default: the experiment's)")
    p.add_argument("--jobs", type=int, default=cores(), help="parallel processes, at most the core count (default: cores; 1 runs here)")
    p.add_argument("--logdir", type=Path, default=DEFAULT_LOG_ROOT, help="log root (default: logs)")
    p.add_argument("--data", help="a Keras mnist.npz or a folder of the four IDX files")
    p.add_argument("--no-plots", action="store_true", help="tables only")
    p.set_defaults(func=run)


def describe(preset) -> str:
    lines = [f"{preset.name}: {preset.title}"]
    for label, config in preset.variants:
        lines.append(
            f"    {label:<10} {config.hidden_layers} x {config.hidden_units} {config.activation}, init {config.init}, "
            f"{config.optimizer} lr {config.learning_rate}, {config.steps} steps"
        )
    lines += textwrap.wrap(preset.shows, 96, initial_indent="  ", subsequent_indent="  ")
    return "\n".join(lines)


def run(args) -> int:
    from core.runs.experiments import PRESETS

    names = ", ".join(PRESETS)
    if args.list:
        print("\n\n".join(describe(p) for p in PRESETS.values()))
        return 0
    if args.name is None:
        print(f"tblab: name an experiment ({names}), or --list", file=sys.stderr)
        return 2
    preset = PRESETS.get(args.name)
    if preset is None:
        print(f"tblab: no experiment named {args.name!r}; choose from {names}", file=sys.stderr)
        return 2
    if problem := count_problem(args, "steps", "jobs"):
        print(f"tblab: {problem}", file=sys.stderr)
        return 2
    args.jobs, notice = capped_jobs(args.jobs)
    if notice:
        print(f"tblab: {notice}", file=sys.stderr)
    return _run(preset, args)


def _run(preset, args) -> int:
    import time

    from core.data.mnist import DataError, load_mnist
    from core.runs.experiments import run_preset, summarize
    from core.system.rundir import RunError

    try:
        source = load_mnist(args.data).source  # a bad --data fails here, before any process starts
    except DataError as error:
        print(f"tblab: {error}", file=sys.stderr)
        return 2
    total = args.steps or max(config.steps for _, config in preset.variants)
    jobs = min(args.jobs, len(preset.variants))
    if jobs == 1:
        from core.system.tfquiet import TRAINING_THREADS, import_tensorflow_quietly

        # Training runs in this process: keep TensorFlow's start-up lines off the terminal.
        import_tensorflow_quietly(threads=TRAINING_THREADS)
    started = time.perf_counter()

    def on_progress(label, record) -> None:
        print(f"  {label:<10} step {record.step + 1:>6}/{total}  loss {record.scalars['loss']:.4g}", flush=True)

    def on_variant(outcome) -> None:
        status = outcome.error or f"test accuracy {outcome.test_accuracy:.4f}, {outcome.steps_done} steps"
        if outcome.stopped and not outcome.error:
            status = f"stopped after {outcome.steps_done} steps"
        print(f"  {outcome.label:<10} done: {status} ({outcome.seconds:.0f} s)", flush=True)

    print(f"experiment {preset.name}: {len(preset.variants)} variants x {total} steps on {jobs} "
          f"process{'es' if jobs > 1 else ''} | data: {source}", flush=True)
    try:
        result = run_preset(
            preset, steps=args.steps, jobs=jobs, log_root=args.logdir, data_path=args.data,
            on_variant=on_variant, on_progress=on_progress, progress_every=max(1, total // 5),
        )
    except RunError as error:
        print(f"tblab: {error}", file=sys.stderr)
        return 2
    print(f"all variants in {time.perf_counter() - started:.0f} s\n", flush=True)
    histories = result.histories()
    if histories:
        print(summarize(preset, histories, plots=not args.no_plots))
    for outcome in result.outcomes:
        if outcome.error:
            print(f"tblab: variant {outcome.label} failed: {outcome.error}", file=sys.stderr)
    print(f"TensorBoard: tblab board --logdir {result.folder}  (one run per variant)")
    return 1 if any(o.error for o in result.outcomes) else 0
