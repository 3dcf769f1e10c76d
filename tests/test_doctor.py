"""The doctor: each rule on small synthetic histories (firing and not), the live doctor's
reporting and pacing, foreign log styles, and the five classic failures end to end."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from core.doctor import Diagnosis, Finding, LiveDoctor, diagnose, primary_finding
from core.doctor.rules import RULES
from core.schema.class_balance import META_KEY as CLASS_BALANCE_KEY
from core.schema.class_balance import ClassBalance
from core.schema.config import RunConfig
from core.schema.facts import RunFacts
from core.schema.fixes import FIXES
from core.schema.history import HistogramSnapshot, History, Series, StepRecord

LN10 = math.log(10)
FLOOR10 = math.log(1 + 9 / math.e)
# Full MNIST's labels per class, and the offline sample's (balanced): the fingerprints follow the data.
MNIST_BALANCE = ClassBalance(train=(5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949),
                             test=(980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009))
SAMPLE_BALANCE = ClassBalance(train=(400,) * 10, test=(100,) * 10)


# --------------------------------------------------------------------------- synthetic runs


def healthy_records(steps: int = 300, hidden: int = 2, kind: str = "relu", seed: int = 0) -> list[StepRecord]:
    """Step records shaped like a healthy tblab MNIST run (values as measured on real runs)."""
    rng = np.random.default_rng(seed)
    layers = [f"dense_{i}" for i in range(1, hidden + 1)] + ["output"]
    widths = {name: (16.0 if i == 0 else 5.8) for i, name in enumerate(layers)}
    widths["output"] = 1.8
    records = []
    for step in range(steps):
        progress = math.exp(-step / 60)
        noise = lambda scale: float(rng.normal(0, scale))  # noqa: E731
        loss = 0.25 + 2.05 * progress + noise(0.03)
        s = {
            "loss": loss,
            "accuracy": float(np.clip(0.95 - 0.85 * progress + noise(0.03), 0, 1)),
            "grad_norm/global": 0.8 + noise(0.1),
            "input/min": 0.0, "input/max": 1.0, "input/mean": 0.13 + noise(0.005), "input/std": 0.31 + noise(0.005),
            "nonfinite/count": 0.0,
        }
        for name in layers:
            s[f"grad_norm/{name}/kernel"] = abs(0.2 + 0.4 * (1 - progress) + noise(0.05))
            # The output bias gradient stays near the batch label noise sqrt(0.9/128) = 0.084 (measured 0.9-1.5x).
            s[f"grad_norm/{name}/bias"] = abs((0.084 if name == "output" else 0.03) + noise(0.01))
            s[f"weight_norm/{name}/kernel"] = widths[name] * (1 + 0.0005 * step)
            s[f"weight_norm/{name}/bias"] = 0.01 + 0.001 * step
            s[f"update_ratio/{name}/kernel"] = abs(0.008 + noise(0.002))
            s[f"update_ratio/{name}/bias"] = abs(0.05 + noise(0.01))
        for name in layers[:-1]:
            if kind == "relu":
                s[f"activation_mean/{name}"] = 0.3 + noise(0.02)
                s[f"activation_std/{name}"] = 0.5 + noise(0.03)
                s[f"dead_fraction/{name}"] = float(np.clip(0.03 + noise(0.02), 0, 1))
            else:
                s[f"activation_mean/{name}"] = 0.5 + noise(0.01)
                s[f"activation_std/{name}"] = 0.15 + noise(0.01)
                s[f"saturated_fraction/{name}"] = float(np.clip(0.02 + noise(0.01), 0, 1))
        records.append(StepRecord(step, s))
    return records


def build(records: list[StepRecord], *, val: dict[int, dict[str, float]] | None = None,
          config: RunConfig | None = None, balance: ClassBalance | None = None) -> History:
    history = History(run="synthetic", facts=RunFacts(config=(config or RunConfig()).to_dict(), class_balance=balance))
    for record in records:
        history.add(record)
    for step, scalars in (val or {}).items():
        history.add_val(step, scalars)
    return history


def edit(records: list[StepRecord], tag: str, value, start: int = 0, end: int | None = None) -> list[StepRecord]:
    """Set tag to value(step) (or a constant) for steps in [start, end)."""
    out = []
    for record in records:
        scalars = dict(record.scalars)
        if record.step >= start and (end is None or record.step < end):
            scalars[tag] = float(value(record.step) if callable(value) else value)
        out.append(StepRecord(record.step, scalars))
    return out


def drop(records: list[StepRecord], prefix: str) -> list[StepRecord]:
    return [StepRecord(r.step, {k: v for k, v in r.scalars.items() if not k.startswith(prefix)}) for r in records]


def ids(diagnosis: Diagnosis) -> set[str]:
    return {f.id for f in diagnosis.findings}


@pytest.fixture(scope="module")
def healthy():
    return healthy_records()


# ------------------------------------------------------------------------------ healthy


@pytest.mark.parametrize("kind,hidden", [("relu", 1), ("relu", 3), ("sigmoid", 2)])
def test_a_healthy_run_gets_no_finding_and_every_check_runs(kind, hidden):
    diagnosis = diagnose(build(healthy_records(hidden=hidden, kind=kind)))
    assert diagnosis.findings == () and diagnosis.primary is None and diagnosis.healthy
    # No test-set values in these records: the labels check says it needs them.
    expected_skips = {"saturated", "shuffled_labels", "overfitting"} if kind == "relu" else {"shuffled_labels", "overfitting"}
    assert {s.id for s in diagnosis.checks_skipped} == expected_skips
    assert len(diagnosis.checks_run) == len(RULES) - len(expected_skips)


def test_healthy_per_batch_dead_units_of_20_to_60_percent_are_not_dead(healthy):
    rng = np.random.default_rng(1)
    records = edit(healthy, "dead_fraction/dense_2", lambda step: rng.uniform(0.2, 0.6))
    assert "dead_relu" not in ids(diagnose(build(records)))


def test_healthy_slow_sigmoid_start_is_not_stuck_at_chance():
    # A 2-layer sigmoid net at SGD 0.1 hovers at 2.24-2.29 for ~100 steps, then falls.
    records = healthy_records(steps=400, kind="sigmoid")
    records = edit(records, "loss", lambda s: 2.29 - 0.0005 * s if s < 100 else max(0.5, 2.24 - 0.005 * (s - 100)))
    records = edit(records, "accuracy", lambda s: 0.12 if s < 100 else min(0.9, 0.12 + 0.003 * (s - 100)))
    assert diagnose(build(records)).findings == ()


# --------------------------------------------------------------------------- non-finite


def test_nonfinite_names_the_first_step_and_layer_and_the_nan_fingerprint(healthy):
    records = edit(healthy, "loss", math.nan, start=150)
    records = edit(records, "nonfinite/count", 3e5, start=150)
    records = edit(records, "activation_std/dense_2", math.inf, start=149)
    records = edit(records, "grad_norm/dense_2/kernel", lambda s: 1e30, start=140, end=149)
    history = build(records, val={100: {"loss": 0.4, "accuracy": 0.9}, 299: {"loss": math.nan, "accuracy": 0.098}},
                    balance=MNIST_BALANCE)
    diagnosis = diagnose(history)
    finding = diagnosis.get("nonfinite")
    assert finding.step == 149 and finding.layers == ("dense_2",)
    assert "loss is NaN/Inf from step 150" in finding.evidence
    assert "0.0980" in finding.evidence and "NaN fingerprint" in finding.evidence
    assert finding.fixes[0] == "lr_down" and finding.severity == "critical"
    assert diagnosis.detected_at["nonfinite"] == 150  # the step the loss went NaN: checked at once


@pytest.mark.parametrize("balance, accuracy, shown", [
    (MNIST_BALANCE, 0.098, True),
    (MNIST_BALANCE, 0.1, False),  # 1000 of 10 000 is not the 980 zeros
    (SAMPLE_BALANCE, 0.1, True),  # the offline sample: 100 zeros in 1000 test digits
    (None, 0.098, False),  # a foreign log: its data's balance is unknown, so no claim
])
def test_the_nan_fingerprint_is_the_test_share_of_zeros_in_the_runs_own_data(healthy, balance, accuracy, shown):
    records = edit(edit(healthy, "loss", math.nan, start=150), "nonfinite/count", 3e5, start=150)
    history = build(records, val={299: {"loss": math.nan, "accuracy": accuracy}}, balance=balance)
    assert ("NaN fingerprint" in diagnose(history).get("nonfinite").evidence) is shown


def test_nonfinite_from_a_nan_weight_histogram_alone():
    history = History(run="weights only")
    edges = np.array([-0.1, 0.0, 0.1])
    history.histograms["weights/dense_1/kernel"] = [
        HistogramSnapshot(0, edges, np.array([5.0, 5.0])),
        HistogramSnapshot(1, np.array([math.nan, 0.0, math.nan]), np.array([5.0, 5.0])),
    ]
    finding = diagnose(history).get("nonfinite")
    assert finding is not None and finding.step == 1 and finding.layers == ("dense_1",)


# ---------------------------------------------------------------------------- exploding


def test_exploding_activation_ladder_and_loss_at_step_0():
    records = healthy_records(hidden=8)
    for k in range(1, 9):
        records = edit(records, f"activation_std/dense_{k}", 1.36 * 1.55 ** (k - 1), end=1)
        records = edit(records, f"grad_norm/dense_{k}/kernel", 80 + 10 * k, end=1)
    records = edit(records, "loss", 78.4, end=1)
    finding = diagnose(build(records)).get("exploding")
    assert finding is not None and finding.step == 0 and finding.fixes[0] == "init"
    assert "1.36 -> 29.2" in finding.evidence and "1.55x per layer" in finding.evidence
    assert "loss 78.4 at step 0" in finding.evidence


def test_a_deep_net_with_gently_growing_activations_does_not_explode():
    records = healthy_records(hidden=8)
    for k in range(1, 9):
        records = edit(records, f"activation_std/dense_{k}", 0.5 * 1.1 ** (k - 1))
    assert "exploding" not in ids(diagnose(build(records)))


# ---------------------------------------------------------------------------- vanishing


def vanishing_records(hidden: int = 8) -> list[StepRecord]:
    records = healthy_records(hidden=hidden, kind="sigmoid")
    records = edit(records, "loss", lambda s: LN10 + 0.01 * math.sin(s))
    records = edit(records, "accuracy", 0.1)
    for k in range(1, hidden + 1):
        records = edit(records, f"grad_norm/dense_{k}/kernel", 0.4 / 6.1 ** (hidden + 1 - k))
    return edit(records, "grad_norm/output/kernel", 0.4)


def test_vanishing_gradient_ladder_fires_with_its_numbers():
    diagnosis = diagnose(build(vanishing_records()))
    finding = diagnosis.get("vanishing")
    assert finding is not None and finding.fixes[0] == "activation"
    assert finding.first_repair == ("activation", "init")  # ReLU with He init, not ReLU on a tiny init
    assert "6.3 orders of magnitude below output" in finding.evidence and "~6.1x per layer" in finding.evidence
    assert finding.step == 0 and diagnosis.detected_at["vanishing"] == 0
    assert diagnosis.primary.id == "vanishing"  # loss at chance is its symptom
    assert "loss_at_chance" in ids(diagnosis)


def test_a_gradient_ladder_within_an_order_of_magnitude_is_fine(healthy):
    records = edit(healthy, "grad_norm/dense_1/kernel", 0.03)
    assert "vanishing" not in ids(diagnose(build(records)))


# ----------------------------------------------------------------------------- dead ReLU


def test_units_dead_from_step_0_point_to_the_init(healthy):
    records = healthy
    for name in ("dense_1", "dense_2"):
        records = edit(records, f"dead_fraction/{name}", 1.0)
        records = edit(records, f"grad_norm/{name}/kernel", 0.0)
        records = edit(records, f"activation_std/{name}", 0.0)
    records = edit(records, "loss", LN10)
    records = edit(records, "accuracy", 0.1)
    diagnosis = diagnose(build(records))
    finding = diagnosis.get("dead_relu")
    assert finding.severity == "critical" and finding.fixes == ("init",) and finding.step == 0
    assert "dense_1: 100% of units output 0 on every batch, steps 0-299" in finding.evidence
    assert "kernel gradient norm exactly 0" in finding.evidence
    assert diagnosis.detected_at["dead_relu"] <= 20
    assert diagnosis.primary.id == "dead_relu"


def test_units_killed_during_training_point_to_the_learning_rate(healthy):
    records = edit(healthy, "dead_fraction/dense_1", 0.85, start=100)
    finding = diagnose(build(records)).get("dead_relu")
    assert finding.severity == "warning" and finding.fixes[0] == "lr_down" and finding.step == 100


def test_dead_units_without_dead_fraction_tags_from_zero_gradients(healthy):
    records = drop(healthy, "dead_fraction/")
    records = edit(records, "grad_norm/dense_1/kernel", 0.0)
    records = edit(records, "activation_std/dense_1", 0.0)
    finding = diagnose(build(records)).get("dead_relu")
    assert finding is not None and finding.layers == ("dense_1",) and finding.fixes == ("init",)


# ----------------------------------------------------------------------------- saturated


def test_saturated_units_fire_and_a_little_saturation_does_not():
    records = healthy_records(kind="tanh")
    assert "saturated" not in ids(diagnose(build(edit(records, "saturated_fraction/dense_1", 0.3))))
    finding = diagnose(build(edit(records, "saturated_fraction/dense_1", 0.95))).get("saturated")
    assert finding.severity == "critical" and finding.fixes[0] == "init" and finding.layers == ("dense_1",)


# -------------------------------------------------------------------------- loss at chance


def chance_records(healthy, **edits) -> list[StepRecord]:
    records = edit(healthy, "loss", lambda s: LN10 + 0.01 * math.sin(s))
    records = edit(records, "accuracy", lambda s: 0.1 + 0.02 * math.cos(s))
    for tag, value in edits.items():
        records = edit(records, tag.replace("__", "/"), value)
    return records


def test_loss_at_chance_with_moving_weights_blames_the_labels(healthy):
    history = build(chance_records(healthy), val={0: {"accuracy": 0.1}, 200: {"accuracy": 0.1135}}, balance=MNIST_BALANCE)
    diagnosis = diagnose(history)
    finding = diagnosis.get("loss_at_chance")
    assert finding.fixes == ("shuffle_labels_off",) and diagnosis.primary is finding
    assert f"chance: entropy of the training labels = {MNIST_BALANCE.prior_loss:.4f}" in finding.evidence
    assert "0.1135" in finding.evidence and "predicts '1'" in finding.evidence
    assert diagnosis.detected_at["loss_at_chance"] <= 200  # within 200 steps


def test_the_prior_only_fingerprint_follows_the_runs_class_balance(healthy):
    """The accuracy of always predicting the most frequent label is computed from the run's data."""
    val = {0: {"accuracy": 0.1}, 200: {"accuracy": 0.1}}
    sample = diagnose(build(chance_records(healthy), val=val, balance=SAMPLE_BALANCE)).get("loss_at_chance")
    assert f"chance: ln 10 = {LN10:.4f}" in sample.evidence
    assert "predicts" not in sample.evidence  # balanced: no label is the prior's argmax, 0.1 is just chance
    foreign = diagnose(build(chance_records(healthy), val=val)).get("loss_at_chance")
    assert f"chance: ln 10 = {LN10:.4f}" in foreign.evidence and "predicts" not in foreign.evidence
    sevens = ClassBalance(train=(390,) * 7 + (490,) + (390,) * 2, test=(100,) * 7 + (130,) + (100,) * 2)
    val = {0: {"accuracy": 0.1}, 200: {"accuracy": 130 / 1030}}
    finding = diagnose(build(chance_records(healthy), val=val, balance=sevens)).get("loss_at_chance")
    assert "predicts '7' for everything" in finding.evidence


def test_a_malformed_class_balance_is_ignored():
    for text in (None, "", "not json", "[1]", '{"train": [1], "test": [1]}', '{"train": [1, 2], "test": [0, 0]}',
                 '{"train": ["x", 1], "test": [1, 1]}', '{"train": [1, 2], "test": [1, 2, 3]}'):
        assert ClassBalance.from_json(text) is None
    assert ClassBalance.from_json(SAMPLE_BALANCE.to_json()) == SAMPLE_BALANCE
    assert ClassBalance.of(np.array([0, 1, 1, 2]), np.array([2, 2])) == ClassBalance((1, 2, 1), (0, 0, 2))


def test_loss_at_chance_with_frozen_weights_asks_for_a_larger_learning_rate(healthy):
    records = chance_records(healthy)
    for name in ("dense_1", "dense_2", "output"):
        records = edit(records, f"update_ratio/{name}/kernel", 1e-6)
    diagnosis = diagnose(build(records))
    assert diagnosis.get("loss_at_chance").fixes == ("lr_up",)
    assert diagnosis.primary.id == "lr_too_low" and diagnosis.primary.fixes == ("lr_up",)


def test_loss_at_chance_with_a_fading_signal_blames_the_init_not_the_labels():
    """fail2 with ReLU but its small init: activations shrink ~0.4x per layer over 8 layers."""
    records = chance_records(healthy_records(hidden=8))
    for i in range(1, 9):
        records = edit(records, f"activation_std/dense_{i}", 0.34 * 0.41 ** (i - 1))
    finding = diagnose(build(records)).get("loss_at_chance")
    assert finding.fixes == ("init", "depth") and "fades layer by layer" in finding.evidence


def test_test_accuracy_above_chance_vetoes_stuck_at_chance(healthy):
    history = build(chance_records(healthy), val={0: {"accuracy": 0.1}, 100: {"accuracy": 0.5}})
    assert "loss_at_chance" not in ids(diagnose(history))


# ------------------------------------------------------------------------------ loss floor


def test_double_softmax_fingerprint_in_the_output_bias_gradient(healthy):
    # Near chance, a logits loss has output-bias gradient norm sqrt(0.9/128) = 0.084; fail5 shows ~0.1x.
    records = edit(healthy, "loss", lambda s: 2.30 - 0.0003 * s)
    records = edit(records, "accuracy", lambda s: 0.1 + 0.0005 * s)
    records = edit(records, "grad_norm/output/bias", lambda s: 0.0094 + 0.001 * math.sin(s))
    diagnosis = diagnose(build(records))
    finding = diagnosis.get("loss_floor")
    assert finding.fixes == ("logits",) and diagnosis.primary is finding
    assert "0.0839" in finding.evidence and f"{FLOOR10:.4f}" in finding.evidence
    assert diagnosis.detected_at["loss_floor"] <= 20
    # The same run with a logits-sized bias gradient is not flagged.
    fine = edit(records, "grad_norm/output/bias", lambda s: 0.084 + 0.01 * math.sin(s))
    assert "loss_floor" not in ids(diagnose(build(fine)))


def test_high_accuracy_above_the_floor_is_the_late_fingerprint(healthy):
    records = drop(healthy, "grad_norm/output/bias")
    records = edit(records, "loss", lambda s: 1.55 + 0.3 * math.exp(-s / 50) + 0.01 * math.sin(s))
    records = edit(records, "accuracy", lambda s: min(0.92, 0.3 + 0.01 * s))
    finding = diagnose(build(records)).get("loss_floor")
    assert finding is not None and "floor ln(1 + 9/e) = 1.4612" in finding.evidence
    healthy_high = edit(drop(healthy, "grad_norm/output/bias"), "accuracy", 0.92, start=150)
    assert "loss_floor" not in ids(diagnose(build(healthy_high)))


# ---------------------------------------------------------------------------------- inputs


def test_raw_pixels_are_not_normalised(healthy):
    records = edit(edit(edit(healthy, "input/max", 255.0), "input/mean", 33.0), "input/std", 78.0)
    finding = diagnose(build(records)).get("input_scale")
    assert finding.fixes == ("normalize",) and "raw 0-255" in finding.evidence


def test_standardised_inputs_are_fine(healthy):
    records = edit(edit(edit(edit(healthy, "input/min", -0.42), "input/max", 2.8), "input/mean", 0.0), "input/std", 1.0)
    assert not ids(diagnose(build(records))) & {"input_scale", "input_noise"}


def test_noise_on_the_inputs_and_train_below_test(healthy):
    records = edit(edit(edit(healthy, "input/min", -17.8), "input/max", 17.3), "input/std", 4.01)
    finding = diagnose(build(records)).get("input_noise")
    assert finding.fixes == ("no_noise",) and "noise of std ~4.0" in finding.evidence
    # Without input statistics, training accuracy far below test accuracy still says it.
    gap = edit(edit(drop(healthy, "input/"), "accuracy", 0.2), "loss", 2.1)  # noisy training costs more than clean test
    finding = diagnose(build(gap, val={299: {"accuracy": 0.62, "loss": 1.2}})).get("input_noise")
    assert finding is not None and "training batch accuracy 20% while test accuracy is 62%" in finding.evidence


# ---------------------------------------------------------------------------- learning rate


def test_weights_tripling_in_twenty_steps_is_a_learning_rate_too_high(healthy):
    records = edit(healthy, "weight_norm/dense_1/kernel", lambda s: 19.2 * min(3.4, 1 + 0.12 * s))
    finding = diagnose(build(records)).get("lr_too_high")
    assert finding is not None and finding.fixes == ("lr_down",) and finding.step == 0
    assert "dense_1 kernel norm grew" in finding.evidence


def test_loss_jumps_after_warm_up_are_a_learning_rate_too_high(healthy):
    records = edit(healthy, "loss", lambda s: 12.0 if s % 37 == 0 else 0.5, start=60)
    assert "lr_too_high" in ids(diagnose(build(records)))


def test_tiny_updates_and_slow_progress_are_a_learning_rate_too_low(healthy):
    records = edit(healthy, "loss", lambda s: 2.3 - 0.0003 * s)
    records = edit(records, "accuracy", lambda s: 0.1 + 0.001 * s)
    for name in ("dense_1", "dense_2", "output"):
        records = edit(records, f"update_ratio/{name}/kernel", 2e-5)
    finding = diagnose(build(records)).get("lr_too_low")
    assert finding.fixes == ("lr_up",) and finding.severity == "warning"


def test_zero_init_is_symmetric_not_a_learning_rate_problem():
    records = healthy_records(kind="sigmoid")
    for name in ("dense_1", "dense_2"):
        records = edit(records, f"weight_norm/{name}/kernel", 0.0, end=1)
    diagnosis = diagnose(build(records))
    assert diagnosis.primary.id == "symmetric_init" and diagnosis.primary.fixes == ("init",)
    assert "dense_1, dense_2 kernel norm exactly 0 after step 0" in diagnosis.primary.evidence


# ------------------------------------------------------------------ diagnosis as a whole


def test_primary_is_the_cause_not_the_symptom():
    def finding(id_, severity="critical", confidence=0.9):
        return Finding(id_, id_, severity, 0, (), "", "", (), confidence)

    nan, boom = finding("nonfinite", confidence=0.99), finding("exploding", confidence=0.6)
    assert primary_finding([nan, boom]) is boom
    noise, chance = finding("input_noise", "warning"), finding("loss_at_chance")
    assert primary_finding([chance, noise]) is noise
    assert primary_finding([]) is None


def test_every_suggested_fix_is_a_real_fix_and_the_json_is_valid(healthy):
    histories = [build(vanishing_records()), build(edit(healthy, "loss", math.nan, start=100))]
    for history in histories:
        diagnosis = diagnose(history)
        assert diagnosis.findings
        for finding in diagnosis.findings:
            assert set(finding.fixes) <= set(FIXES) and finding.explanation and finding.evidence
        data = json.loads(diagnosis.to_json())
        assert data["primary"] == diagnosis.primary.id and data["findings"][0]["detected_at_step"] is not None


def test_findings_reject_unknown_severities_and_confidences():
    with pytest.raises(ValueError):
        Finding("x", "x", "fatal", 0, (), "", "", (), 0.5)
    with pytest.raises(ValueError):
        Finding("x", "x", "info", 0, (), "", "", (), 1.5)


def test_keras_epoch_log_runs_what_its_tags_allow_and_names_the_rest():
    history = History(run="keras", facts=RunFacts(style="keras", step_unit="epoch", layer_order=("dense", "dense_1")))
    for epoch, (loss, acc) in enumerate([(1.9, 0.6), (1.62, 0.86), (1.55, 0.93), (1.52, 0.95), (1.5, 0.96)]):
        history.add(StepRecord(epoch, {"loss": loss, "accuracy": acc}))
        history.add_val(epoch, {"loss": loss, "accuracy": acc})
    edges = np.linspace(-0.2, 0.2, 11)
    for layer in ("dense", "dense_1"):
        history.histograms[f"weights/{layer}/kernel"] = [HistogramSnapshot(e, edges, np.ones(10)) for e in range(5)]
    diagnosis = diagnose(history)
    assert diagnosis.primary.id == "loss_floor"
    # Weight histograms stand in for the gradients and update sizes Keras does not log.
    assert {"nonfinite", "loss_at_chance", "loss_floor", "exploding", "vanishing", "lr_too_low"} <= set(
        diagnosis.checks_run
    )
    history.histograms.clear()
    bare = diagnose(history)
    skipped = {s.id: s.needs for s in bare.checks_skipped}
    assert {"vanishing", "dead_relu", "saturated"} <= set(skipped)
    assert "lr_too_low" in bare.checks_run  # a steadily, slowly falling loss is its sign in loss-only logs
    assert "grad_norm/<layer>/kernel" in skipped["vanishing"]  # the one tag that would settle it


def test_weight_histograms_growing_from_a_zero_bias_are_not_an_explosion():
    """Biases start at 0 and grow 100x in healthy runs; kernels thrown 100x wider by the updates
    are a learning rate too high (an exploding init shows at the start, not as growth)."""
    def run(growing: str) -> History:
        history = History(run="keras", facts=RunFacts(style="keras", step_unit="epoch"))
        for epoch in range(5):
            history.add(StepRecord(epoch, {"loss": 0.5 - 0.05 * epoch, "accuracy": 0.8 + 0.02 * epoch}))
        for part in ("kernel", "bias"):
            start, factor = (1e-6 if part == "bias" else 0.1), (10 if part == growing else 1)
            scale = [start * factor**e for e in range(5)]
            history.histograms[f"weights/dense/{part}"] = [
                HistogramSnapshot(e, np.linspace(-scale[e], scale[e], 11), np.ones(10)) for e in range(5)
            ]
        return history

    assert diagnose(run("bias")).findings == ()
    grown = diagnose(run("kernel"))
    assert grown.get("exploding") is None and grown.primary.id == "lr_too_high"


def test_an_empty_history_is_healthy_with_every_check_skipped():
    diagnosis = diagnose(History(run="empty"))
    assert diagnosis.findings == () and diagnosis.checks_run == ()
    assert len(diagnosis.checks_skipped) == len(RULES)


# ---------------------------------------------------------------------------- live doctor


def test_live_doctor_reports_each_finding_once_at_the_step_it_appears(healthy):
    records = edit(healthy, "loss", math.nan, start=123)
    records = edit(records, "nonfinite/count", 5.0, start=123)
    doctor = LiveDoctor(budget=None)
    reported = []
    for record in records:
        for finding in doctor.update(record):
            reported.append((record.step, finding.id))
    assert reported == [(123, "nonfinite")]  # found at once, between two regular checks
    doctor.finish()
    assert [f.id for f in doctor.diagnosis().findings] == ["nonfinite"]


def test_live_doctor_is_told_the_class_balance_for_its_fingerprints(healthy):
    doctor = LiveDoctor(budget=None, class_balance=MNIST_BALANCE)
    for record in edit(edit(healthy, "loss", math.nan, start=150), "nonfinite/count", 3e5, start=150):
        doctor.update(record)
    doctor.update_eval(299, {"loss": math.nan, "accuracy": 0.098})
    doctor.finish()
    assert "NaN fingerprint" in doctor.diagnosis().get("nonfinite").evidence


def test_live_doctor_spaces_checks_out_to_stay_within_its_budget(healthy):
    now = [0.0]
    from core.doctor.view import RunView

    runnable = sum(rule.runnable(RunView(build(healthy))) for rule in RULES)

    def slow(check):
        def timed(view):
            now[0] += 0.002 / runnable  # a whole check costs 2 ms ...
            return check(view)
        return timed

    rules = tuple(replace(rule, check=slow(rule.check)) for rule in RULES)
    doctor = LiveDoctor(every=10, budget=0.01, rules=rules, clock=lambda: now[0])
    for record in healthy:
        now[0] += 0.002  # ... and a training step 2 ms: checking every 10 steps would cost 10%
        doctor.update(record)
    assert doctor.every >= 100  # 2 ms per >= 200 ms of training: <= 1%
    assert doctor.check_seconds <= 0.01 * (now[0] - doctor.check_seconds) * 2  # overall near the budget


def test_live_doctor_cost_on_a_real_sized_history_is_under_a_millisecond_per_step(healthy):
    doctor = LiveDoctor(budget=None)
    for record in healthy_records(steps=1000, hidden=3):
        doctor.update(record)
    per_step = (doctor.check_seconds) / 1000
    assert per_step < 1e-3 and doctor.checks >= 100


def test_live_and_offline_agree(healthy):
    records = vanishing_records()
    doctor = LiveDoctor(budget=None)
    for record in records:
        doctor.update(record)
    doctor.finish()
    live, offline = doctor.diagnosis(), diagnose(build(records))
    assert [f.id for f in live.findings] == [f.id for f in offline.findings]
    assert live.primary.id == offline.primary.id == "vanishing"


def test_garbage_histories_never_crash_the_doctor():
    """A debugging tool must not crash on the failure it exists to show: NaN, Inf, empty, odd tags."""
    rng = np.random.default_rng(7)
    tags = [t for t in healthy_records(steps=1)[0].scalars] + ["grad_norm/dense_1", "weird/tag", "loss/extra"]
    specials = [math.nan, math.inf, -math.inf, 0.0, -1.0, 1e300, 1e-300]
    for trial in range(150):
        none = RunFacts()
        metas = [none, none.with_text("config", "not json"), none.with_text("config", "[1]"), RunFacts(num_classes=1),
                 none.with_text(CLASS_BALANCE_KEY, "[1, 2]"), RunFacts(class_balance=MNIST_BALANCE),
                 none.with_text(CLASS_BALANCE_KEY, '{"train": [0, 0], "test": [1, 1]}'),
                 RunFacts(step_unit="epoch", layer_order=("", "", "dense")), RunFacts(config={"learning_rate": "x"}),
                 none.with_text("config", RunConfig().to_json())]
        history = History(run=f"junk{trial}", facts=metas[int(rng.integers(len(metas)))])
        steps = int(rng.integers(0, 60))
        for tag in rng.choice(tags, size=int(rng.integers(0, len(tags))), replace=False):
            for step in range(steps):
                value = rng.choice(specials) if rng.random() < 0.2 else float(rng.normal(1, 3))
                history.train.setdefault(str(tag), Series()).append(step, float(value))
        for step in range(0, steps, 7):
            history.add_val(step, {"accuracy": float(rng.choice([0.098, 0.1135, math.nan, 0.5])), "loss": 2.3})
        if rng.random() < 0.5:
            choices = [np.array([]), np.array([0.0]), np.array([math.nan, 1.0]), np.array([0.0, 0.0]),
                       np.linspace(-1, 1, 5)]
            edges = choices[int(rng.integers(len(choices)))]
            counts = np.ones(max(len(edges) - 1, 0))
            history.histograms[str(rng.choice(["weights/dense_1/kernel", "gradients/dense_1/kernel",
                                                "activations/dense_1", "weights/kernel"]))] = [
                HistogramSnapshot(s, edges, counts) for s in range(0, max(steps, 1), 10)]
        diagnosis = diagnose(history)
        json.loads(diagnosis.to_json())
        for finding in diagnosis.findings:
            assert set(finding.fixes) <= set(FIXES)


def test_the_doctor_loads_without_tensorflow_or_textual():
    """The lab imports it before its first frame, and core must never import textual."""
    import subprocess
    import sys

    code = "import sys, core.doctor, core.runs.verify, core.doctor.render; " \
           "print(sorted({'tensorflow', 'textual'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


# ============================================================ real runs (TensorFlow below)

E2E_STEPS = 200  # "named correctly within 200 steps"
# scenario -> (primary finding, the repair it suggests first)
CLASSIC = {
    "fail1": ("exploding", ("init",)),
    "fail2": ("vanishing", ("activation", "init")),
    "fail3": ("dead_relu", ("init",)),
    "fail4": ("input_noise", ("no_noise",)),
    "fail5": ("loss_floor", ("logits",)),
}


@pytest.fixture(scope="module")
def mnist():
    from core.data.mnist import DataError, load_mnist

    try:
        return load_mnist(download=False)
    except DataError:  # no offline sample installed: the synthetic set shows the same failures
        from tests.helpers import tiny_mnist

        return tiny_mnist(n_train=2048, n_test=512)


@pytest.fixture(scope="module")
def classic_runs(mnist):
    """Each classic failure trained E2E_STEPS steps with the live doctor riding along."""
    from core.schema.scenario import find_scenario
    from core.train.loop import train

    runs = {}
    for name in CLASSIC:
        config = find_scenario(name).config.replace(steps=E2E_STEPS)
        doctor = LiveDoctor(config=config)
        live = []
        result = train(
            config, data=mnist, run_name=name,
            on_step=lambda record, d=doctor, out=live: out.extend((record.step, f) for f in d.update(record)),
            on_eval=doctor.update_eval,
        )
        doctor.finish()
        runs[name] = (config, result, doctor, live)
    return runs


LOGGED = ("fail3", "fail5")  # two 2-layer failures: enough to cover reading our logs back, and quick to trace


@pytest.fixture(scope="module")
def logged_runs(mnist, tmp_path_factory):
    """Short runs written to disk in tblab's own log style."""
    from core.runs.recipe import record_run
    from core.schema.scenario import find_scenario

    root = tmp_path_factory.mktemp("logs")
    results = {}
    for name in LOGGED:
        config = find_scenario(name).config.replace(steps=120, histogram_every=40, image_every=1000)
        results[name] = record_run(config, data=mnist, logdir=root / name, run_name=name)
    return root, results


@pytest.mark.parametrize("name", list(CLASSIC))
def test_classic_failure_is_named_live_within_200_steps_with_the_right_fix(classic_runs, name):
    _, _, doctor, live = classic_runs[name]
    expected, repair = CLASSIC[name]
    diagnosis = doctor.diagnosis()
    assert diagnosis.primary is not None and diagnosis.primary.id == expected, diagnosis.primary
    assert diagnosis.primary.first_repair == repair
    assert diagnosis.detected_at[expected] < E2E_STEPS
    assert expected in [f.id for _, f in live]  # reported while the run was going
    # The live doctor's cost is a figure for bench/doctor_eval.py, not a timed test.


@pytest.mark.parametrize("name", LOGGED)
def test_a_tblab_log_read_back_from_disk_gets_the_same_verdict_as_live(logged_runs, name):
    from core.tensorboard.reader import read_run

    root, results = logged_runs
    history = read_run(root / name)
    assert history.facts.style == "tblab" and history.histograms
    from_disk, live = diagnose(history), diagnose(results[name].history)
    assert from_disk.primary.id == live.primary.id == CLASSIC[name][0]
    assert from_disk.detected_at == live.detected_at


def test_numbers_a_learner_can_check(classic_runs):
    runs = classic_runs
    fail1 = runs["fail1"][2].diagnosis()
    # 94.1 with the offline sample in its fixed permutation (78.4 when it was interleaved by class):
    # the first shuffled batch holds other digits, so the exploding net starts from another loss.
    assert "loss 94.1 at step 0" in fail1.get("exploding").evidence
    assert fail1.get("nonfinite").step <= 5
    fail3 = runs["fail3"][2].diagnosis().get("dead_relu")
    assert "100% of units output 0 on every batch, steps 0-" in fail3.evidence
    fail5 = runs["fail5"][2].diagnosis().get("loss_floor")
    assert "1.4612" in fail5.evidence


def test_a_damaged_tblab_log_still_gets_its_verdict_with_a_warning(logged_runs, tmp_path):
    import shutil

    from core.tensorboard.reader import read_run

    root, _ = logged_runs
    copy = tmp_path / "fail3"
    shutil.copytree(root / "fail3", copy)
    (events,) = (copy / "train").glob("events.out.tfevents.*")
    data = events.read_bytes()
    events.write_bytes(data[: len(data) * 2 // 3])  # truncated mid-run, as after a crash
    (copy / "val" / "events.out.tfevents.1.host.junk.v2").write_bytes(np.random.default_rng(0).bytes(500))
    diagnosis = diagnose(read_run(copy))
    assert diagnosis.primary.id == "dead_relu"
    assert any("damaged or incomplete" in w for w in diagnosis.warnings)
    assert len(diagnosis.warnings) == 2


def test_cli_diagnoses_every_run_under_a_root_as_text_and_json(logged_runs, capsys):
    from tui.cli import main

    root, _ = logged_runs
    assert main(["diagnose", str(root), "--brief"]) == 0
    out = capsys.readouterr().out
    for name in LOGGED:
        assert f"run {name}" in out and all(f"--fix {fix}" in out for fix in CLASSIC[name][1])
    assert out.count("verdict:") == len(LOGGED) and "checks run:" in out
    assert main(["diagnose", str(root), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {run["run"]: run["primary"] for run in data["runs"]} == {n: CLASSIC[n][0] for n in LOGGED}


def test_cli_missing_or_empty_folder_is_a_one_line_error(tmp_path, capsys):
    from tui.cli import main

    assert main(["diagnose", str(tmp_path / "nope")]) == 2
    assert main(["diagnose", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("tblab: ") for line in err)


def test_cli_verify_re_runs_the_fix(logged_runs, capsys, mnist, monkeypatch):
    """--verify on fail5's log: the logits fix removes the floor and raises test accuracy."""
    import core.data.mnist
    from tui.cli import main

    root, _ = logged_runs
    monkeypatch.setattr(core.data.mnist, "load_mnist", lambda path=None, **_: mnist)
    assert main(["diagnose", str(root / "fail5"), "--verify", "--steps", "100", "--brief"]) == 0
    out = capsys.readouterr().out
    assert "re-run: VERIFIED: fix logits" in out


def test_verify_refuses_foreign_logs_politely():
    from tui.commands.diagnose import _verify

    history = History(run="keras")
    verification, note = _verify(history, diagnose(history), None, data=None)
    assert verification is None and note.startswith("cannot verify: not a tblab run")


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CLASSIC))
def test_the_suggested_fix_for_each_classic_failure_is_verified_by_a_re_run(classic_runs, mnist, name):
    from core.runs.verify import Outcome, verify

    config, result, doctor, _ = classic_runs[name]
    diagnosis = doctor.diagnosis()
    before = Outcome.of(result.history, diagnosis, result.steps_done)
    verification = verify(config, diagnosis, before=before, data=mnist)
    assert verification.verified, verification.summary()


# ------------------------------------------------------------------------ foreign log styles


def fit_keras(logdir, *, softmax_twice: bool, epochs: int = 6) -> None:
    """A tiny Keras model with the TensorBoard callback; softmax_twice is fail5's bug in Keras."""
    import keras
    import tensorflow as tf

    from tests.helpers import tiny_mnist

    data = tiny_mnist(n_train=512, n_test=128)
    x, y = data.x_train.astype("float32") / 255, data.y_train
    keras.utils.set_random_seed(0)
    layers = [keras.Input((784,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(10)]
    if softmax_twice:
        # Written out, not activation="softmax" or tf.nn.softmax: Keras 3 spots a Softmax op before
        # a from_logits loss and quietly uses the logits underneath, which would hide the bug.
        layers.append(keras.layers.Lambda(lambda t: tf.exp(t) / tf.reduce_sum(tf.exp(t), axis=-1, keepdims=True)))
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.SGD(0.1),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    callback = keras.callbacks.TensorBoard(str(logdir), histogram_freq=1)
    model.fit(x, y, batch_size=32, epochs=epochs, verbose=0, callbacks=[callback],
              validation_data=(data.x_test.astype("float32") / 255, data.y_test))


@pytest.fixture(scope="module")
def keras_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("keras")
    fit_keras(root / "softmax_twice", softmax_twice=True)
    fit_keras(root / "healthy", softmax_twice=False)
    return root


def test_keras_callback_logs_one_verdict_per_run(keras_root):
    from core.tensorboard.reader import read_all

    verdicts = {h.run: diagnose(h) for h in read_all(keras_root)}
    assert set(verdicts) == {"softmax_twice", "healthy"}
    assert verdicts["healthy"].findings == ()
    twice = verdicts["softmax_twice"]
    assert twice.primary.id == "loss_floor" and twice.primary.fixes == ("logits",)
    assert "floor ln(1 + 9/e) = 1.4612" in twice.primary.evidence
    # Keras logs no gradients or inputs: weight histograms and the model config stand in.
    assert {"nonfinite", "loss_at_chance", "loss_floor", "vanishing", "dead_relu"} <= set(twice.checks_run)


def test_plain_tf_summary_logs_of_a_deep_sigmoid_net_show_vanishing_gradients(tmp_path):
    """A hand-written training loop logging plain tags: train/loss, accuracy, <var>/grad_norm."""
    import tensorflow as tf

    from tests.helpers import tiny_mnist

    data = tiny_mnist(n_train=256, n_test=64)
    x = tf.constant(data.x_train.astype("float32") / 255)
    y = tf.constant(data.y_train)
    rng = np.random.default_rng(0)
    widths = [784] + [64] * 6 + [10]
    names = [f"layer{i}" for i in range(1, 7)] + ["output"]
    kernels = [tf.Variable(rng.uniform(-0.1, 0.1, (a, b)).astype("float32")) for a, b in zip(widths, widths[1:])]
    writer = tf.summary.create_file_writer(str(tmp_path / "plain" / "run1"))
    with writer.as_default():
        for step in range(40):
            batch = rng.choice(256, 64)
            xb, yb = tf.gather(x, batch), tf.gather(y, batch)
            with tf.GradientTape() as tape:
                h = xb
                for kernel in kernels[:-1]:
                    h = tf.sigmoid(h @ kernel)
                logits = h @ kernels[-1]
                loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(yb, logits))
            grads = tape.gradient(loss, kernels)
            for kernel, grad in zip(kernels, grads):
                kernel.assign_sub(0.1 * grad)
            accuracy = tf.reduce_mean(tf.cast(tf.argmax(logits, 1, output_type=tf.int32) == yb, tf.float32))
            tf.summary.scalar("train/loss", loss, step=step)
            tf.summary.scalar("train/accuracy", accuracy, step=step)
            for name, grad in zip(names, grads):
                tf.summary.scalar(f"{name}/kernel/grad_norm", tf.norm(grad), step=step)
    writer.close()
    from core.tensorboard.reader import read_all

    (history,) = read_all(tmp_path / "plain")
    assert history.facts.style == "plain"
    diagnosis = diagnose(history)
    assert diagnosis.primary.id == "vanishing" and diagnosis.primary.layers[0] == "layer1"
    assert "layer1 kernel gradient norm" in diagnosis.primary.evidence
