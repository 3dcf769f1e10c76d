"""The doctor on logs written by programs that are not tblab (issue 14): per-writer confusion.

    python bench/gen_foreign_logs.py /tmp/foreign        # write the labelled suite (~5-10 min)
    python bench/foreign_eval.py /tmp/foreign [--json OUT] [--only NAME_PART ...] [-v]

For every run in OUT/manifest.json: read the log folder as `tblab diagnose` does, diagnose
it, and compare the primary finding with the run's label. Prints, per writer, every run
(expected -> found), a confusion table, the share of failing runs named right and the
false alarms on healthy runs (any finding on a healthy run is one), and the time each
diagnosis took. Targets (the issue): >= 90% right on the failing runs of each writer,
<= 5% false alarms on the healthy runs.

The labels are the evaluation's answer key, never the doctor's input.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from core.doctor import diagnose
from core.tensorboard.reader import read_run

HEALTHY = "healthy"
# The doctor names a cause by its primary finding's id. Labels shuffled apart from their
# images have two accepted names: their own finding, or "loss stuck at chance" blaming the labels.
ACCEPTED = {"shuffled_labels": {"shuffled_labels", "loss_at_chance(shuffle_labels_off)"}}


def named_cause(diagnosis) -> str:
    """The cause the doctor names first: the primary's id, qualified by its fix when it is
    the catch-all 'loss stuck at chance'."""
    primary = diagnosis.primary
    if primary is None:
        return "-"
    if primary.id == "loss_at_chance":
        return f"loss_at_chance({primary.fixes[0] if primary.fixes else ''})"
    return primary.id


def right(label: str, found: str) -> bool:
    if label == HEALTHY:
        return found == "-"
    return found in ACCEPTED.get(label, {label})


def evaluate(root: Path, only: list[str] | None) -> list[dict]:
    manifest = json.loads((root / "manifest.json").read_text())
    rows = []
    for name, entry in sorted(manifest["runs"].items()):
        if only and not any(part in name for part in only):
            continue
        began = time.perf_counter()
        history = read_run(root / name, name=name)
        read = time.perf_counter() - began
        diagnosis = diagnose(history)
        took = time.perf_counter() - began
        found = named_cause(diagnosis)
        rows.append({
            "run": name, "writer": entry["writer"], "label": entry["label"], "found": found,
            "right": right(entry["label"], found), "others": [f.id for f in diagnosis.findings if f is not diagnosis.primary],
            "confidence": diagnosis.primary.confidence if diagnosis.primary else None,
            "evidence": diagnosis.primary.evidence if diagnosis.primary else "",
            "checks_run": len(diagnosis.checks_run), "checks": len(diagnosis.checks_run) + len(diagnosis.checks_skipped),
            "test_accuracy": entry.get("final_test_accuracy"), "read_s": read, "seconds": took,
        })
    return rows


def report(rows: list[dict], verbose: bool) -> str:
    lines = []
    by_writer = defaultdict(list)
    for row in rows:
        by_writer[row["writer"]].append(row)
    totals = Counter()
    for writer, group in sorted(by_writer.items()):
        failing = [r for r in group if r["label"] != HEALTHY]
        healthy = [r for r in group if r["label"] == HEALTHY]
        named = sum(r["right"] for r in failing)
        alarms = sum(not r["right"] for r in healthy)
        totals.update(failing=len(failing), named=named, healthy=len(healthy), alarms=alarms)
        lines.append(f"== {writer}: {named}/{len(failing)} failing runs named right "
                     f"({100 * named / max(1, len(failing)):.0f}%), {alarms}/{len(healthy)} false alarms on healthy runs")
        lines.append(f"   {'expected':18s} {'found':38s} {'ok':3s} {'checks':7s} {'test acc':8s} {'s':>5s}  others")
        for r in sorted(group, key=lambda r: (r["label"] == HEALTHY, r["label"], r["run"])):
            acc = f"{r['test_accuracy']:.3f}" if isinstance(r["test_accuracy"], float) else "?"
            lines.append(f"   {r['label']:18s} {r['found']:38s} {'yes' if r['right'] else 'NO':3s} "
                         f"{r['checks_run']:>2d}/{r['checks']:<4d} {acc:8s} {r['seconds']:5.2f}  {','.join(r['others'])}")
            if verbose and r["evidence"]:
                lines.append(f"       evidence: {r['evidence'][:300]}")
        confusion = Counter((r["label"], r["found"]) for r in group if not r["right"])
        if confusion:
            lines.append("   confusions: " + "; ".join(f"{l} -> {f}" + (f" x{n}" if n > 1 else "")
                                                      for (l, f), n in sorted(confusion.items())))
        lines.append("")
    seconds = [r["seconds"] for r in rows]
    lines.append(f"all writers: {totals['named']}/{totals['failing']} failing runs named right "
                 f"({100 * totals['named'] / max(1, totals['failing']):.0f}%); false alarms {totals['alarms']}/"
                 f"{totals['healthy']} healthy runs ({100 * totals['alarms'] / max(1, totals['healthy']):.0f}%)")
    if seconds:
        lines.append(f"read + diagnose per run: median {sorted(seconds)[len(seconds) // 2]:.2f}s, max {max(seconds):.2f}s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", help="folder written by bench/gen_foreign_logs.py")
    parser.add_argument("--only", nargs="*", help="only runs whose name contains one of these")
    parser.add_argument("--json", help="also write the rows as JSON to this file")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each primary finding's evidence")
    args = parser.parse_args(argv)
    root = Path(args.root)
    if not (root / "manifest.json").exists():
        print(f"no manifest.json in {root}: write the suite with bench/gen_foreign_logs.py first", file=sys.stderr)
        return 2
    rows = evaluate(root, args.only)
    print(report(rows, args.verbose))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
