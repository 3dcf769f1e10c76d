"""`tblab diagnose LOGDIR`: the doctor's verdict on every run under a log folder, from tblab,
Keras' TensorBoard callback or plain tf.summary logs, each with how its tags were read;
--tag ROLE=TAG says which tag fills a role; --verify re-runs the suggested fix. A folder of
many runs (a class's submissions) gets a progress bar on a terminal and a summary table."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from tui.commands import capped_jobs, count_problem


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("diagnose", help="diagnose training runs from their TensorBoard logs")
    p.add_argument("logdir", type=Path, help="a run folder, or a root folder holding several runs")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.add_argument("--tag", action="append", default=[], metavar="ROLE=TAG",
                   help="read TAG as ROLE (loss, accuracy, test_accuracy, grad_norm/<layer>/kernel, ...); repeatable")
    p.add_argument("--verify", action="store_true",
                   help="for tblab runs: re-run the suggested fix for the same steps and compare")
    p.add_argument("--steps", type=int, help="steps for --verify re-runs (default: the logged config's own steps, up to 10000)")
    p.add_argument("--data", help="MNIST for --verify: a Keras mnist.npz or a folder of the four IDX files")
    p.add_argument("--brief", action="store_true", help="leave out the explanations")
    p.add_argument("--jobs", type=int, default=1,
                   help="worker processes for a folder of many runs, at most the core count (default: 1)")
    p.set_defaults(func=run)


def run(args) -> int:
    from core.system.tfquiet import import_tensorflow_quietly
    from core.tensorboard.reader import LogError

    overrides = _overrides(args)
    if overrides is None:
        return 2
    if _is_folder(args.logdir):
        import_tensorflow_quietly()  # TensorBoard's reader loads it, with start-up lines on stderr
    data = _load_data(args) if args.verify else None
    if args.verify and data is None:
        return 2
    progress = Progress(enabled=sys.stderr.isatty())
    reports = []
    try:
        for total, report in _reports(args, overrides, data):
            progress.show(len(reports), total, report["run"])
            reports.append(report)
            progress.clear()
            if not args.json:
                print("\n".join(_text(reports[-1], explain=not args.brief)) + "\n")
    except LogError as error:
        progress.clear()
        print(f"tblab: {error}", file=sys.stderr)
        return 2
    progress.clear()
    if args.json:
        from core.schema.json_safe import dumps

        print(dumps({"root": str(args.logdir), "runs": [_as_json(r) for r in reports],
                     "summary": summary_counts(reports)}, indent=2))
    elif len(reports) > 1:
        print("\n".join(summary_table(reports)))
    return 0


def _is_folder(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:  # a name too long: the reader says so in one line
        return False


def _overrides(args) -> dict[str, str] | None:
    """{role: tag} from --tag, or None after a one-line error (also for a bad --steps or --jobs)."""
    from core.tensorboard.reading.roles import parse_override

    if problem := count_problem(args, "steps", "jobs"):
        print(f"tblab: {problem}", file=sys.stderr)
        return None
    args.jobs, notice = capped_jobs(args.jobs)
    if notice:
        print(f"tblab: {notice}", file=sys.stderr)
    overrides = {}
    for text in args.tag:
        try:
            role, tag = parse_override(text)
        except ValueError as error:
            print(f"tblab: {error}", file=sys.stderr)
            return None
        overrides[role] = tag
    return overrides


def _reports(args, overrides, data):
    """(number of runs, report) per run, in the folder's order: in worker processes with
    --jobs (core/runs/many.py), in this one for a single job or --verify (it re-runs from the History)."""
    from core.tensorboard.reader import iter_runs

    if args.jobs > 1 and not args.verify:
        from core.runs.many import diagnose_runs

        for total, report in diagnose_runs(args.logdir, overrides=overrides, jobs=args.jobs):
            yield total, {**vars(report), "warnings": list(report.warnings), "verification": None, "note": ""}
        return
    for total, history in iter_runs(args.logdir, overrides=overrides):
        yield total, _diagnose_one(history, args, data)


def _diagnose_one(history, args, data) -> dict:
    from core.doctor import diagnose

    diagnosis = diagnose(history)
    # The History itself is not kept: a folder of 500 runs holds one run's values at a time.
    report = {"run": history.run, "read": bool(history.train or history.val or history.histograms),
              "warnings": list(history.warnings), "diagnosis": diagnosis, "style": history.facts.style,
              "reading": history.facts.reading, "verification": None, "note": ""}
    if args.verify:
        report["verification"], report["note"] = _verify(history, diagnosis, args.steps, data)
    return report


def _text(report, explain: bool) -> list[str]:
    from core.doctor.render import render_diagnosis
    from core.tensorboard.reading.roles import reading_lines

    if not report["read"]:
        # Nothing was read (empty, header-only or unreadable files): say so, not "no problem found".
        return [f"run {report['run']}: nothing to diagnose, no values could be read",
                *(f"  warning: {warning}" for warning in report["warnings"])]
    lines = render_diagnosis(report["diagnosis"], style=report["style"], explain=explain)
    lines += [f"  {line}" for line in reading_lines(report["reading"])]
    if report["verification"] is not None:
        lines.append(f"  re-run: {report['verification'].summary()}")
    elif report["note"]:
        lines.append(f"  re-run: {report['note']}")
    return lines


def verdict_of(report) -> str:
    primary = report["diagnosis"].primary
    if not report["read"]:
        return "nothing read"
    return primary.id if primary is not None else "no problem found"


def summary_counts(reports) -> dict[str, int]:
    return dict(Counter(verdict_of(report) for report in reports).most_common())


def summary_table(reports) -> list[str]:
    """One line per run (verdict, confidence, last step, warnings), then how many runs had each verdict."""
    from core.tensorboard.reading.names import printable

    names = [printable(report["run"], 60) for report in reports]
    width = max(len("run"), *map(len, names))
    lines = [f"{'run':<{width}}  {'verdict':<24} {'conf':>5} {'last':>8} {'warn':>4}"]
    for name, report in zip(names, reports):
        diagnosis, primary = report["diagnosis"], report["diagnosis"].primary
        confidence = f"{primary.confidence:.2f}" if primary is not None else ""
        lines.append(f"{name:<{width}}  {verdict_of(report):<24} {confidence:>5} {diagnosis.last_step:>8} "
                     f"{len(report['warnings']):>4}")
    counts = ", ".join(f"{count} {verdict}" for verdict, count in summary_counts(reports).items())
    lines.append(f"{len(reports)} runs: {counts}")
    return lines


class Progress:
    """A one-line progress bar on stderr, drawn only on a terminal (never into a pipe or a file)."""

    WIDTH = 30

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def show(self, done: int, total: int, name: str) -> None:
        if not self.enabled or total < 2:
            return
        from core.tensorboard.reading.names import printable

        filled = self.WIDTH * done // total
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        sys.stderr.write(f"\r\033[K[{bar}] {done}/{total} {printable(name, 40)}")
        sys.stderr.flush()

    def clear(self) -> None:
        if self.enabled:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


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
    data["reading"] = report["reading"].to_dict()
    data["verification"] = report["verification"].to_dict() if report["verification"] else None
    if report["note"]:
        data["verification_note"] = report["note"]
    return data
