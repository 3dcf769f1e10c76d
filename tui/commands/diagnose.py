"""`tblab diagnose LOGDIR`: the doctor's verdict on every run under a log folder, from tblab,
Keras' TensorBoard callback or plain tf.summary logs; --verify re-runs the suggested fix."""

from __future__ import annotations

import sys
from pathlib import Path

from tui.commands import count_problem


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("diagnose", help="diagnose training runs from their TensorBoard logs")
    p.add_argument("logdir", type=Path, help="a run folder, or a root folder holding several runs")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.add_argument("--verify", action="store_true",
                   help="for tblab runs: re-run the suggested fix for the same steps and compare")
    p.add_argument("--steps", type=int, help="steps for --verify re-runs (default: the logged config's own steps, up to 10000)")
    p.add_argument("--data", help="MNIST for --verify: a Keras mnist.npz or a folder of the four IDX files")
    p.add_argument("--brief", action="store_true", help="leave out the explanations")
    p.set_defaults(func=run)


def run(args) -> int:
    from core.doctor import diagnose
    from core.doctor.render import render_diagnosis
    from core.system.tfquiet import import_tensorflow_quietly
    from core.tensorboard.reader import LogError, read_all

    if problem := count_problem(args, "steps"):
        print(f"tblab: {problem}", file=sys.stderr)
        return 2
    if args.logdir.is_dir():
        import_tensorflow_quietly()  # TensorBoard's reader loads it, with start-up lines on stderr
    try:
        histories = read_all(args.logdir)
    except LogError as error:
        print(f"tblab: {error}", file=sys.stderr)
        return 2
    data = _load_data(args) if args.verify else None
    if args.verify and data is None:
        return 2
    reports = []
    for history in histories:
        diagnosis = diagnose(history)
        report = {"diagnosis": diagnosis, "style": history.facts.style, "verification": None, "note": ""}
        if args.verify:
            report["verification"], report["note"] = _verify(history, diagnosis, args.steps, data)
        reports.append(report)
        if not args.json and not (history.train or history.val or history.histograms):
            # Nothing was read (empty, header-only or unreadable files): say so, not "no problem found".
            print(f"run {history.run}: nothing to diagnose, no values could be read")
            print("\n".join(f"  warning: {warning}" for warning in history.warnings) + "\n")
            continue
        if not args.json:
            print("\n".join(render_diagnosis(diagnosis, style=report["style"], explain=not args.brief)))
            if report["verification"] is not None:
                print(f"  re-run: {report['verification'].summary()}")
            elif report["note"]:
                print(f"  re-run: {report['note']}")
            print()
    if args.json:
        from core.schema.json_safe import dumps

        print(dumps({"root": str(args.logdir), "runs": [_as_json(r) for r in reports]}, indent=2))
    return 0


def _load_data(args):
    from core.data.mnist import DataError, load_mnist

    try:
        return load_mnist(args.data)
    except DataError as error:
        print(f"tblab: {error}", file=sys.stderr)
        return None


def _verify(history, diagnosis, steps, data):
    from core.runs.verify import Outcome, fix_to_verify, logged_config, logged_steps, rerun_steps, verify

    config = logged_config(history)
    if config is None:
        return None, "cannot verify: not a tblab run (no config logged), so there is nothing to re-run"
    if fix_to_verify(diagnosis) is None:
        return None, "nothing to verify: no finding with a fix"
    steps, refusal = rerun_steps(config, steps)
    if steps is None:
        return None, refusal
    before = None
    if steps == logged_steps(history) and history.facts.data_source == data.source:
        before = Outcome.of(history, diagnosis, steps)  # the logged run is the "before"
    return verify(config, diagnosis, before=before, steps=steps, data=data), ""


def _as_json(report) -> dict:
    data = report["diagnosis"].to_dict()
    data["style"] = report["style"]
    data["verification"] = report["verification"].to_dict() if report["verification"] else None
    if report["note"]:
        data["verification_note"] = report["note"]
    return data
