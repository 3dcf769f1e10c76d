"""How well the doctor does: every scenario plus healthy variants, trained with the live
doctor riding along, then each suggested fix re-run to prove it.

Prints a confusion table: expected vs found primary finding, the step the live doctor
first flagged it, the suggested fix and whether a re-run verified it, and any finding
on a healthy variant (a false alarm). Targets (the issue): the five classic failures
named correctly within 200 steps, no finding on any healthy variant, every suggested
fix for the five verified by a re-run.

    python bench/doctor_eval.py [--steps 2000] [--data PATH] [--scenarios DIR] [--json]

The expected findings below are the evaluation's answer key, not the doctor's input:
the doctor never sees a scenario's name, diagnosis or expected fixes.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass, field

from core.system.tfquiet import import_tensorflow_quietly

import_tensorflow_quietly()

from core.data.mnist import load_mnist
from core.doctor import LiveDoctor
from core.runs.verify import Outcome, verify
from core.schema.config import RunConfig
from core.schema.scenario import BUILTIN_DIR, discover
from core.train.loop import train

CLASSIC = ("fail1", "fail2", "fail3", "fail4", "fail5")
DETECT_WITHIN = 200
ANSWER_KEY = {  # scenario -> the finding a correct diagnosis names first
    "baseline": None,
    "fail1": "exploding",
    "fail2": "vanishing",
    "fail3": "dead_relu",
    "fail4": "input_noise",
    "fail5": "loss_floor",
    "fail6": "input_scale",
    "fail7": "loss_at_chance",
    "fail8": "lr_too_high",
    "fail9": "symmetric_init",
}
# The labels' own finding names fail7's cause more precisely than "loss stuck at chance".
ALSO_RIGHT = {("loss_at_chance", "shuffled_labels")}
# Healthy shallow nets at sane learning rates: any finding on them is a false alarm.
HEALTHY = {
    "relu1 he sgd.05": RunConfig(hidden_layers=1, activation="relu", init="he", learning_rate=0.05),
    "relu2 he sgd.1": RunConfig(hidden_layers=2, activation="relu", init="he", learning_rate=0.1),
    "relu2 he sgd.01": RunConfig(hidden_layers=2, activation="relu", init="he", learning_rate=0.01),
    "relu3 he sgd.1": RunConfig(hidden_layers=3, activation="relu", init="he", learning_rate=0.1),
    "relu2 std-inputs sgd.1": RunConfig(hidden_layers=2, activation="relu", init="uniform(-0.1,0.1)",
                                        normalization="standard"),
    "relu2 he momentum.01": RunConfig(hidden_layers=2, activation="relu", init="he", optimizer="momentum",
                                      learning_rate=0.01),
    "relu2 he adam1e-3": RunConfig(hidden_layers=2, activation="relu", init="he", optimizer="adam",
                                   learning_rate=0.001),
    "relu2 he adam3e-3": RunConfig(hidden_layers=2, activation="relu", init="he", optimizer="adam",
                                   learning_rate=0.003),
    "sigmoid1 glorot sgd.1": RunConfig(hidden_layers=1, activation="sigmoid", init="glorot", learning_rate=0.1),
    "sigmoid2 glorot sgd.1": RunConfig(hidden_layers=2, activation="sigmoid", init="glorot", learning_rate=0.1),
    "sigmoid2 glorot sgd.5": RunConfig(hidden_layers=2, activation="sigmoid", init="glorot", learning_rate=0.5),
    "sigmoid2 glorot adam1e-3": RunConfig(hidden_layers=2, activation="sigmoid", init="glorot", optimizer="adam",
                                          learning_rate=0.001),
    "tanh1 glorot sgd.05": RunConfig(hidden_layers=1, activation="tanh", init="glorot", learning_rate=0.05),
    "tanh2 glorot sgd.1": RunConfig(hidden_layers=2, activation="tanh", init="glorot", learning_rate=0.1),
    "tanh2 glorot adam1e-3": RunConfig(hidden_layers=2, activation="tanh", init="glorot", optimizer="adam",
                                       learning_rate=0.001),
}


@dataclass
class Row:
    name: str
    expected: str | None
    found: str | None
    detected: int | None
    fix: str | None
    fix_expected: tuple[str, ...]
    test_accuracy: float
    others: list[str] = field(default_factory=list)
    verified: bool | None = None
    after_accuracy: float = math.nan
    overhead: float = 0.0  # doctor time / training time

    @property
    def named(self) -> bool:
        return self.found == self.expected or (self.expected, self.found) in ALSO_RIGHT

    @property
    def fix_ok(self) -> bool | None:
        """The repair is (part of) what the scenario's author expects to repair it."""
        if not self.fix_expected:
            return None
        return bool(self.fix) and set(self.fix.split("+")) <= set(self.fix_expected)


def run_one(name: str, config: RunConfig, data, expected, fix_expected, verify_fix: bool) -> Row:
    doctor = LiveDoctor(config=config)
    result = train(config, data=data, run_name=name, on_step=doctor.update, on_eval=doctor.update_eval)
    doctor.finish()
    diagnosis = doctor.diagnosis()
    primary = diagnosis.primary
    row = Row(
        name=name,
        expected=expected,
        found=primary.id if primary else None,
        detected=diagnosis.detected_at.get(primary.id) if primary else None,
        fix="+".join(primary.first_repair) if primary and primary.first_repair else None,
        fix_expected=fix_expected,
        test_accuracy=result.test_accuracy,
        others=[f.id for f in diagnosis.findings if f is not primary],
        # All the doctor's time (taking records and checking) against steady-state training time.
        overhead=doctor.seconds / (result.steps_done / result.steps_per_second) if result.steps_per_second else math.nan,
    )
    if verify_fix and row.fix:
        before = Outcome.of(result.history, diagnosis, result.steps_done)
        verification = verify(config, diagnosis, before=before, data=data)
        row.verified, row.after_accuracy = verification.verified, verification.after.test_accuracy
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000, help="training steps per run (default 2000)")
    parser.add_argument("--data", help="a Keras mnist.npz or a folder of the four IDX files")
    parser.add_argument("--scenarios", default=str(BUILTIN_DIR), help="folder of scenarios (default: fails/)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON too")
    parser.add_argument("--only", nargs="*", help="only these scenarios (and no healthy variants)")
    args = parser.parse_args(argv)
    data = load_mnist(args.data)
    print(f"data: {data.source}; {args.steps} steps per run\n", flush=True)

    scenario_rows, healthy_rows = [], []
    progress = sys.stderr  # rows as they finish; the full table comes at the end on stdout
    print(SCENARIO_HEADER, file=progress, flush=True)
    for loaded in discover(args.scenarios):
        if loaded.scenario is None:
            print(f"skipped {loaded.path.name}: {loaded.error}")
            continue
        scenario = loaded.scenario
        if args.only and scenario.name not in args.only:
            continue
        config = scenario.config.replace(steps=args.steps)
        expected = ANSWER_KEY.get(scenario.name, "?")
        row = run_one(scenario.name, config, data, expected, scenario.expected_fixes, verify_fix=True)
        scenario_rows.append(row)
        print(_scenario_line(row), file=progress, flush=True)
    print("\n" + HEALTHY_HEADER, file=progress, flush=True)
    for name, config in ({} if args.only else HEALTHY).items():
        row = run_one(name, config.replace(steps=args.steps), data, None, (), verify_fix=False)
        healthy_rows.append(row)
        print(_healthy_line(row), file=progress, flush=True)

    print("\n".join(_summary(scenario_rows, healthy_rows)))
    if args.json:
        print(json.dumps([_as_json(r) for r in scenario_rows + healthy_rows], indent=2))
    return 0


SCENARIO_HEADER = (
    f"{'scenario':10} {'expected':15} {'found (primary)':15} {'flagged@':>8} {'repair':17} {'fix ok':6} "
    f"{'verified':8} {'test acc before -> after':24} {'doctor':>6}  other findings"
)
HEALTHY_HEADER = f"{'healthy variant':26} {'test acc':>8} {'doctor':>6}  findings (false alarms)"


def _scenario_line(row: Row) -> str:
    verified = "-" if row.verified is None else ("yes" if row.verified else "NO")
    fix_ok = "-" if row.fix_ok is None else ("yes" if row.fix_ok else "NO")
    mark = "" if row.named else "  <-- MISNAMED"
    accuracy = f"{row.test_accuracy:.4f}" + (f" -> {row.after_accuracy:.4f}" if math.isfinite(row.after_accuracy) else "")
    return (
        f"{row.name:10} {row.expected!s:15} {row.found!s:15} {row.detected if row.detected is not None else '-'!s:>8} "
        f"{row.fix or '-'!s:17} {fix_ok:6} {verified:8} {accuracy:24} {row.overhead:6.2%}  "
        f"{', '.join(row.others) or '-'}{mark}"
    )


def _healthy_line(row: Row) -> str:
    findings = ", ".join(([row.found] if row.found else []) + row.others) or "none"
    return f"{row.name:26} {row.test_accuracy:8.4f} {row.overhead:6.2%}  {findings}"


def _summary(scenarios: list[Row], healthy: list[Row]) -> list[str]:
    classic = [r for r in scenarios if r.name in CLASSIC]
    named = [r for r in classic if r.named and r.detected is not None and r.detected <= DETECT_WITHIN]
    verified = [r for r in classic if r.verified]
    alarms = [r for r in healthy if r.found or r.others]
    all_named = [r for r in scenarios if r.named]
    fixes_ok = [r for r in scenarios if r.fix_ok]
    with_expected_fixes = [r for r in scenarios if r.fix_expected]
    overhead = max((r.overhead for r in scenarios + healthy if math.isfinite(r.overhead)), default=0.0)
    return [
        SCENARIO_HEADER,
        *(_scenario_line(r) for r in scenarios),
        "",
        HEALTHY_HEADER,
        *(_healthy_line(r) for r in healthy),
        "",
        f"classic five named correctly within {DETECT_WITHIN} steps: {len(named)}/{len(classic)}",
        f"classic five with the suggested fix verified by a re-run: {len(verified)}/{len(classic)}",
        f"all scenarios named correctly: {len(all_named)}/{len(scenarios)}; "
        f"first suggested fix among the scenario's expected fixes: {len(fixes_ok)}/{len(with_expected_fixes)}",
        f"healthy variants with a finding (false alarms): {len(alarms)}/{len(healthy)}",
        f"live doctor cost: at most {overhead:.2%} of training time in any run",
    ]


def _as_json(row: Row) -> dict:
    return {
        "name": row.name, "expected": row.expected, "found": row.found, "detected_at": row.detected,
        "fix": row.fix, "fix_ok": row.fix_ok, "verified": row.verified, "others": row.others,
        "test_accuracy": row.test_accuracy if math.isfinite(row.test_accuracy) else None,
        "after_accuracy": row.after_accuracy if math.isfinite(row.after_accuracy) else None,
        "overhead": row.overhead,
    }


if __name__ == "__main__":
    sys.exit(main())
