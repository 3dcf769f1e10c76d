"""Never claim what the log contradicts: a finding whose cause's consequences the log refutes is
dropped and listed as "considered and ruled out" (text and JSON), and no evidence quotes a value
that was not measured (`nan`, `nan%`)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from core.doctor import diagnose, render_diagnosis
from core.doctor.rules import measured_only
from core.schema.facts import RunFacts
from core.schema.history import HistogramSnapshot, History, StepRecord
from core.tensorboard.reader import read_run
from tests.test_doctor import build, drop, edit, healthy_records, ids

FIXTURES = Path(__file__).parent / "fixtures" / "foreign_logs"
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text())["runs"]


@pytest.fixture(scope="module")
def healthy():
    return healthy_records()


def ruled(diagnosis) -> dict[str, str]:
    return {r.id: r.reason for r in diagnosis.ruled_out}


def _floor_run(healthy, low: float | None = None):
    """fail5's late fingerprint: high accuracy, the loss stalled above ln(1 + 9/e); with `low`,
    the loss dips to that value near the end."""
    records = drop(healthy, "grad_norm/output/bias")
    records = edit(records, "loss", lambda s: 1.55 + 0.3 * math.exp(-s / 50) + 0.01 * math.sin(s))
    records = edit(records, "accuracy", lambda s: min(0.92, 0.3 + 0.01 * s))
    if low is not None:
        records = edit(records, "loss", low, start=260, end=262)
    return records


def test_a_loss_below_the_softmax_floor_rules_the_floor_out(healthy):
    assert "loss_floor" in ids(diagnose(build(_floor_run(healthy))))
    diagnosis = diagnose(build(_floor_run(healthy, low=0.40)))
    assert "loss_floor" not in ids(diagnosis)
    assert "0.400, below ln(1 + 9/e) = 1.4612" in ruled(diagnosis)["loss_floor"]
    text = "\n".join(render_diagnosis(diagnosis))
    assert "considered and ruled out: Loss floor" in text and "the floor" not in text.split("considered")[0]
    assert json.loads(diagnosis.to_json())["ruled_out"][0]["id"] == "loss_floor"


def test_the_runs_own_fix_rules_out_the_cause_it_removes(healthy):
    noisy = edit(edit(edit(healthy, "input/min", -17.8), "input/max", 17.3), "input/std", 4.01)
    assert "input_noise" in ids(diagnose(build(noisy)))
    history = build(noisy)
    history.facts = history.facts.but(fixes=("no_noise",))
    diagnosis = diagnose(history)
    assert "input_noise" not in ids(diagnosis) and "--fix no_noise" in ruled(diagnosis)["input_noise"]


def test_a_normal_input_std_rules_out_inputs_drowned_in_noise(healthy):
    # Training accuracy far below test accuracy alone points to noise; the measured input std says no.
    gap = edit(healthy, "accuracy", 0.2)
    diagnosis = diagnose(build(gap, val={299: {"accuracy": 0.62, "loss": 1.2}}))
    assert "input_noise" not in ids(diagnosis)
    assert "inputs have std 0.3" in ruled(diagnosis)["input_noise"]


def test_non_relu_units_rule_out_dead_relus_and_relus_rule_out_saturation():
    history = read_run(FIXTURES / "split" / "dead_relu")
    assert diagnose(history).primary.id == "dead_relu"
    history.facts = history.facts.but(model={"layers": [{"name": "a", "activation": "tanh"}, {"name": "b", "activation": "tanh"},
                                                        {"name": "out", "activation": "linear"}]})
    diagnosis = diagnose(history)
    assert "dead_relu" not in ids(diagnosis) and "tanh, not ReLU" in ruled(diagnosis)["dead_relu"]
    saturated = read_run(FIXTURES / "tutorial" / "saturated")
    assert diagnose(saturated).primary.id == "saturated"
    saturated.facts = saturated.facts.but(fixes=("activation",))
    assert "saturated" in ruled(diagnose(saturated))


def test_a_high_test_accuracy_rules_out_a_cause_that_stops_learning():
    history = read_run(FIXTURES / "keras" / "vanishing")
    assert diagnose(history).primary.id == "vanishing"
    history.val["accuracy"].values[-1] = 0.93  # the last evaluation: a net that learned
    diagnosis = diagnose(history)
    assert "vanishing" not in ids(diagnosis) and "test accuracy 93%" in ruled(diagnosis)["vanishing"]


def test_evidence_never_quotes_an_unmeasured_value():
    assert measured_only("a 3%, b nan% of them; c 0.5") == "a 3%, c 0.5"
    assert measured_only("loss is NaN/Inf from step 3") == "loss is NaN/Inf from step 3"  # a measured NaN stays
    for name in MANIFEST:
        for finding in diagnose(read_run(FIXTURES / name, name=name)).findings:
            assert not re.search(r"(?<![A-Za-z])nan%?(?![A-Za-z])", finding.evidence), (name, finding.evidence)


def test_a_test_accuracy_logged_after_the_last_training_step_is_the_runs_result(healthy):
    stuck = edit(edit(healthy, "loss", lambda s: math.log(10) + 0.01 * math.sin(s)), "accuracy", 0.1)
    assert "loss_at_chance" in ids(diagnose(build(stuck)))
    # `tf.summary.scalar("test_accuracy", acc, step=STEPS)` once the loop is done: one step past the last record.
    diagnosis = diagnose(build(stuck, val={300: {"accuracy": 0.62}}))
    assert "loss_at_chance" not in ids(diagnosis) and "test accuracy 62% at step 300" in ruled(diagnosis)["loss_at_chance"]


def test_a_training_loss_below_the_test_loss_rules_out_noisy_training_inputs(healthy):
    # Train far below test in accuracy, no input statistics: noise, unless training costs less than testing.
    gap = edit(drop(healthy, "input/"), "accuracy", 0.2)
    noisy = edit(gap, "loss", 2.1)
    assert "input_noise" in ids(diagnose(build(noisy, val={299: {"accuracy": 0.62, "loss": 1.2}})))
    diagnosis = diagnose(build(gap, val={299: {"accuracy": 0.62, "loss": 1.2}}))
    assert "input_noise" not in ids(diagnosis) and "is not above the test loss (1.2)" in ruled(diagnosis)["input_noise"]


def _slow_loss_only(logits_low: float | None, then_learns: bool = False) -> History:
    """A loss (and test loss) that creeps down from ln 10; with logits_low, a `logits` histogram
    reaching down to it (negative: the loss was handed logits, not probabilities); then_learns:
    from step 400 it falls to 1.0 (a slow start, outgrown)."""
    rng = np.random.default_rng(0)
    history = History(run="slow", facts=RunFacts(style="plain"))
    for step in range(600):
        late = max(0.0, (step - 400) / 200) if then_learns else 0.0
        history.add(StepRecord(step, {"loss": 2.35 - 0.00005 * step - 1.3 * late + rng.normal(0, 0.002)}))
        if step % 50 == 0:
            history.add_val(step, {"loss": 2.36 - 0.00005 * step - 1.3 * late})
            if logits_low is not None:
                snap = HistogramSnapshot(step, np.linspace(logits_low, 1, 11), np.ones(10))
                history.histograms.setdefault("logits", []).append(snap)
    return history


def test_a_slow_loss_is_a_small_step_only_where_the_log_shows_no_second_softmax():
    # A second softmax shrinks every gradient ~K-fold: the loss creeps and the weights stay as with
    # a tiny step. Without a sign that the loss was handed logits, neither cause is named from that.
    assert "lr_too_low" not in ids(diagnose(_slow_loss_only(None)))
    handed_logits = diagnose(_slow_loss_only(-2.0)).get("lr_too_low")
    assert handed_logits is not None and "inferred from the loss alone" in handed_logits.evidence


def test_a_memorisation_gap_in_keras_running_means_is_still_a_gap():
    # Running means lag the batches they average and never lead them: training accuracy climbing
    # to 35% while the test accuracy sits at chance is there even when they cannot be undone.
    history = History(run="keras", facts=RunFacts(style="keras", running_means=("loss", "accuracy")))
    for step in range(1, 901):
        position = (step - 1) % 60 + 1  # a 60-batch epoch's running mean
        history.add(StepRecord(step, {"loss": 2.3 - 0.3 * step / 900, "accuracy": 0.1 + 0.25 * step / 900 * position / 60}))
        if step % 60 == 0:
            history.add_val(step, {"accuracy": 0.1 + 0.004 * math.sin(step), "loss": 2.4 + step / 9000})
    assert diagnose(history).primary.id == "shuffled_labels"



def test_a_slow_start_the_run_outgrew_is_no_learning_rate_too_low():
    diagnosis = diagnose(_slow_loss_only(-2.0, then_learns=True))
    assert "lr_too_low" not in ids(diagnosis)
    assert "would not have made that progress" in ruled(diagnosis)["lr_too_low"]
