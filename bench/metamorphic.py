"""Metamorphic suite: the doctor's verdict must not depend on how a log names or spaces things,
and removing evidence may only make it less sure, never make it name another cause.

    python bench/gen_foreign_logs.py OUT --suite all            # the runs (see that script)
    python bench/metamorphic.py OUT [--renames 6] [--max-removed 7] [--only NAME_PART ...] [--json F]

For every run in OUT/manifest.json, variants are written by rewriting its event files
(bench/metamorphic_rewrite.py) and diagnosed as `tblab diagnose` would:
  (a) rename   --renames conventions drawn from a grammar of real naming conventions
  (b) cadence  scalars every 10 and every 50 steps (where that leaves 20+ values), histograms at
               half and a quarter of their rate, means per epoch
  (c) remove   every subset (up to --max-removed groups) of the run's evidence groups
Checks: under (a) and (b) the primary finding is the original's; under (c) it is the original's
or none (not enough evidence; also "loss stuck at chance" with no fix, which names no cause),
never another cause, and a run without findings gets none.
Renames and removals need the writer's role table (loops and student styles); Keras and TF1
tutorial runs get cadence variants only. Prints a table per family and writer, then each failure.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from foreign_eval import named_cause  # noqa: E402
from metamorphic_rewrite import (  # noqa: E402
    conventions,
    per_epoch,
    present_groups,
    read_records,
    recadenced,
    removed,
    renamed,
    roles_of,
    write_records,
)

from core.doctor import diagnose  # noqa: E402
from core.tensorboard.reader import read_run  # noqa: E402

TRAIN_SIZE = 4000  # the offline sample's training digits (bench/foreign_logs/mnist_sample.py)
MIN_RECORDS = 20  # values of each scalar a cadence variant keeps at least


def variants(run: Path, spec: dict, renames: int, max_removed: int):
    """(family, name, records, others) of every variant of one run."""
    try:
        roles = roles_of(spec["writer"], len(spec["hidden"]))
    except ValueError:
        roles = None
    records, others = read_records(run, roles)
    layers = len(spec["hidden"]) + 1
    if roles is not None:
        for convention in conventions(renames, seed=spec["seed"]):
            out = renamed(records, convention, layers)
            if out is not None:
                yield "rename", convention.name, out, {"": [e for events in others.values() for e in events]}
    # A cadence that leaves fewer than MIN_RECORDS values of a scalar is a different (shorter)
    # log, not the same run logged less often: every N of a per-epoch log, say.
    scalar_steps = {r.step for r in records if r.role is None or r.role.kind == "loss"}
    for every in (10, 50):
        if len({step for step in scalar_steps if step % every == 0}) >= MIN_RECORDS:
            yield "cadence", f"scalars every {every}", recadenced(records, every, 1), others
    for factor in (2, 4):
        yield "cadence", f"histograms 1/{factor}", recadenced(records, 1, factor), others
    if spec["writer"] != "per_epoch" and spec.get("update_freq") != "epoch":
        yield "cadence", "per epoch", per_epoch(records, max(1, TRAIN_SIZE // spec["batch"])), others
    if roles is not None:
        groups = present_groups(records)
        for size in range(1, min(max_removed, len(groups)) + 1):
            for dropped in itertools.combinations(groups, size):
                yield "remove", "-" + ",-".join(dropped), removed(records, dropped), others


def verdict(folder: Path, name: str) -> tuple[str, bool]:
    """(named cause, any finding) of one log folder."""
    diagnosis = diagnose(read_run(folder, name=name))
    return named_cause(diagnosis), bool(diagnosis.findings)


# "Loss stuck at chance" with no fix to offer names no cause: what less evidence may fall back to.
NO_CAUSE = ("-", "loss_at_chance()")


def judge(family: str, base: tuple[str, bool], found: tuple[str, bool]) -> str:
    """'ok', 'changed' (a) (b), 'flip' or 'new alarm' (c)."""
    if family in ("rename", "cadence"):
        return "ok" if found[0] == base[0] else "changed"
    if not base[1] and found[1]:
        return "new alarm"
    return "ok" if found[0] == base[0] or found[0] in NO_CAUSE else "flip"


def evaluate(root: Path, only: list[str] | None, renames: int, max_removed: int) -> list[dict]:
    manifest = json.loads((root / "manifest.json").read_text())["runs"]
    rows = []
    scratch = Path(tempfile.mkdtemp(prefix="tblab-metamorphic-"))
    try:
        for name, entry in sorted(manifest.items()):
            if only and not any(part in name for part in only):
                continue
            base = verdict(root / name, name)
            for family, variant, records, others in variants(root / name, entry["spec"], renames, max_removed):
                folder = scratch / "variant"
                shutil.rmtree(folder, ignore_errors=True)
                write_records(folder, records, others)
                found = verdict(folder, name)
                rows.append({"run": name, "writer": entry["writer"], "label": entry["label"], "family": family,
                             "variant": variant, "base": base[0], "found": found[0], "result": judge(family, base, found)})
            print(f"{name:40s} {base[0]:34s} {sum(r['run'] == name for r in rows)} variants", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return rows


def freeze(root: Path, names: list[str], out: Path) -> None:
    """Copy runs into a small test fixture: scalars every 10 steps, half the histograms (the
    thinned run is itself a cadence variant), with a manifest of what each run is."""
    manifest = json.loads((root / "manifest.json").read_text())["runs"]
    path = out / "manifest.json"
    frozen = json.loads(path.read_text()) if path.exists() else {"runs": {}}
    for name in names:
        entry = manifest[name]
        roles = roles_of(entry["writer"], len(entry["spec"]["hidden"]))
        records, others = read_records(root / name, roles)
        shutil.rmtree(out / name, ignore_errors=True)
        write_records(out / name, recadenced(records, 10, 2), others)
        keep = ("writer", "hidden", "seed", "batch", "steps", "activation", "init", "inputs", "softmax_out", "lr")
        frozen["runs"][name] = {"label": entry["label"], "writer": entry["writer"],
                                "final_test_accuracy": entry.get("final_test_accuracy"),
                                "spec": {k: entry["spec"][k] for k in keep}}
    path.write_text(json.dumps(frozen, indent=1))


def report(rows: list[dict]) -> str:
    lines = [f"{'family':8s} {'writer':15s} {'variants':>8s} {'invariant':>10s} {'changed/flip':>12s} {'new alarm':>9s}"]
    groups = defaultdict(list)
    for row in rows:
        groups[(row["family"], row["writer"])].append(row)
    for family in ("rename", "cadence", "remove"):
        family_rows = [r for r in rows if r["family"] == family]
        for (fam, writer), group in sorted(groups.items()):
            if fam != family:
                continue
            counts = Counter(r["result"] for r in group)
            lines.append(f"{family:8s} {writer:15s} {len(group):8d} {100 * counts['ok'] / len(group):9.1f}% "
                         f"{counts['changed'] + counts['flip']:12d} {counts['new alarm']:9d}")
        if family_rows:
            counts = Counter(r["result"] for r in family_rows)
            lines.append(f"{family:8s} {'ALL':15s} {len(family_rows):8d} {100 * counts['ok'] / len(family_rows):9.1f}% "
                         f"{counts['changed'] + counts['flip']:12d} {counts['new alarm']:9d}")
    failures = [r for r in rows if r["result"] != "ok"]
    if failures:
        lines.append("")
        lines.append("failures (run, variant: original -> variant):")
        lines += [f"  {r['result']:9s} {r['run']:36s} {r['variant'][:48]:48s} {r['base']} -> {r['found']}" for r in failures]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", help="folder written by bench/gen_foreign_logs.py (with manifest.json)")
    parser.add_argument("--only", nargs="*", help="only runs whose name contains one of these")
    parser.add_argument("--renames", type=int, default=6, help="naming conventions per run")
    parser.add_argument("--max-removed", type=int, default=7, help="largest evidence subset removed at once")
    parser.add_argument("--json", help="also write the rows as JSON to this file")
    parser.add_argument("--freeze", metavar="DIR", help="instead: copy the --only runs (full names), thinned, into DIR")
    args = parser.parse_args(argv)
    root = Path(args.root)
    if not (root / "manifest.json").exists():
        print(f"no manifest.json in {root}: write the runs with bench/gen_foreign_logs.py first", file=sys.stderr)
        return 2
    if args.freeze:
        freeze(root, args.only or [], Path(args.freeze))
        return 0
    rows = evaluate(root, args.only, args.renames, args.max_removed)
    print(report(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
