"""Bonus experiment presets: well formed, one TensorBoard run per variant, summaries built from the histories."""

from __future__ import annotations

import dataclasses
import math
import re
import threading

import numpy as np
import pytest

from core.runs.experiment_summary import activation_summary, depth_summary, first_step_below, init_summary
from core.runs.experiments import PRESETS, Preset, histories_from_folder, run_preset, summarize
from core.schema.config import RunConfig
from core.schema.facts import RunFacts
from core.schema.history import History, StepRecord
from core.tensorboard.reader import find_runs, read_run
from tests.helpers import tiny_mnist
from tui.cli import main


def differing_fields(configs: list[RunConfig]) -> set[str]:
    first = dataclasses.asdict(configs[0])
    return {k for c in configs[1:] for k, v in dataclasses.asdict(c).items() if v != first[k]}


def test_presets_are_well_formed():
    assert set(PRESETS) == {"tanh-vs-relu", "depth", "init"}
    for name, preset in PRESETS.items():
        labels = [label for label, _ in preset.variants]
        assert preset.name == name and preset.title and len(preset.shows) > 80
        assert len(labels) >= 2 and len(set(labels)) == len(labels)
        assert all(re.fullmatch(r"[a-z0-9][a-z0-9-]*", label) for label in labels)  # safe run folder names
        assert all(isinstance(config, RunConfig) for _, config in preset.variants)


def test_each_preset_changes_only_what_it_studies():
    by_label = {name: dict(p.variants) for name, p in PRESETS.items()}
    activation = by_label["tanh-vs-relu"]
    assert differing_fields(list(activation.values())) == {"activation", "init"}
    assert (activation["tanh"].activation, activation["tanh"].init) == ("tanh", "glorot")
    assert (activation["relu"].activation, activation["relu"].init) == ("relu", "he")
    assert min(c.steps for c in activation.values()) >= 10000

    depth = list(by_label["depth"].values())
    assert differing_fields(depth) == {"hidden_layers"}
    assert [c.hidden_layers for c in depth] == [2, 4, 8] and {c.activation for c in depth} == {"relu"}

    init = by_label["init"]
    assert differing_fields(list(init.values())) == {"init"}
    assert {c.hidden_layers for c in init.values()} == {8} and {c.activation for c in init.values()} == {"relu"}
    assert init["zeros"].init == "zeros" and init["he"].init == "he"
    assert init["small"].init == "uniform(-0.01,0.01)" and init["large"].init == "uniform(-0.4,0.4)"


TINY = Preset(
    name="tiny",
    title="Tiny test experiment",
    shows="Two one-layer nets that differ in width, for the tests.",
    variants=(
        ("narrow", RunConfig(hidden_layers=1, hidden_units=8, batch_size=32, steps=12, histogram_every=5, eval_every=5)),
        ("wide", RunConfig(hidden_layers=1, hidden_units=32, batch_size=32, steps=12, histogram_every=5, eval_every=5)),
    ),
    summary=depth_summary,
)


@pytest.fixture(scope="module")
def data():
    return tiny_mnist()


def test_running_a_preset_writes_one_run_per_variant_in_one_folder(data, tmp_path):
    finished, progress = [], []
    result = run_preset(
        TINY, jobs=1, log_root=tmp_path, data=data, on_variant=finished.append,
        on_progress=lambda label, record: progress.append((label, record.step)), progress_every=5,
    )
    assert result.folder.parent == tmp_path / "experiments" / "tiny"
    assert find_runs(result.folder) == [result.folder / "narrow", result.folder / "wide"]
    assert [o.label for o in finished] == ["narrow", "wide"] and not any(o.error for o in result.outcomes)
    assert [step for label, step in progress if label == "wide"] == [0, 5, 10, 11]  # every 5th, and the last
    for outcome in result.outcomes:
        on_disk = read_run(outcome.logdir)
        assert (result.folder / outcome.label / "val").is_dir()
        assert on_disk.series("loss").steps == list(range(12))
        np.testing.assert_allclose(on_disk.series("loss").values, outcome.history.series("loss").values, rtol=1e-6)
        assert on_disk.val["accuracy"].last() == pytest.approx(outcome.test_accuracy)
    text = summarize(PRESETS["depth"], result.histories(), plots=True)
    assert "ratio dense_1/output" in text and "tiny synthetic test set" in text and "narrow" in text
    assert summarize(PRESETS["depth"], histories_from_folder(result.folder), plots=True) == text  # the logs tell it too

    again = run_preset(TINY, steps=2, jobs=1, log_root=tmp_path, data=data)
    assert again.folder != result.folder and again.folder.parent == result.folder.parent  # a re-run never appends


def test_parallel_processes_report_progress_and_outcomes_in_variant_order(data, tmp_path):
    progress = []
    result = run_preset(
        TINY, jobs=2, log_root=tmp_path, data=data, progress_every=100,
        on_progress=lambda label, record: progress.append((label, record.step)),
    )
    assert [o.label for o in result.outcomes] == ["narrow", "wide"]
    assert all(o.steps_done == 12 and not o.error and len(o.history.series("loss")) == 12 for o in result.outcomes)
    assert sorted(progress) == [("narrow", 0), ("narrow", 11), ("wide", 0), ("wide", 11)]
    assert find_runs(result.folder) == [result.folder / "narrow", result.folder / "wide"]


def test_stop_ends_the_running_variant_and_skips_the_rest(data, tmp_path):
    stop = threading.Event()
    result = run_preset(
        TINY, steps=10_000, jobs=1, log_root=tmp_path, data=data, stop=stop,
        on_progress=lambda label, record: stop.set() if record.step >= 20 else None, progress_every=10,
    )
    narrow, wide = result.outcomes
    assert narrow.stopped and 20 < narrow.steps_done < 10_000 and not narrow.error
    assert wide.stopped and wide.error == "stopped before it started" and wide.steps_done == 0
    assert list(result.histories()) == ["narrow"]


def test_a_broken_variant_is_an_outcome_not_an_exception(tmp_path):
    result = run_preset(TINY, steps=2, jobs=1, log_root=tmp_path, data_path=str(tmp_path / "missing.npz"))
    assert all("missing.npz" in o.error for o in result.outcomes) and result.histories() == {}


# --- summaries from synthetic histories: every number is one we put in ---------------


def synthetic(steps: int, tags: dict[str, np.ndarray], test_accuracy: float) -> History:
    history = History(run="synthetic", facts=RunFacts(data_source="synthetic"))
    for step in range(steps):
        history.add(StepRecord(step, {tag: float(values[step]) for tag, values in tags.items()}))
    history.add_val(steps - 1, {"accuracy": test_accuracy, "loss": 0.5})
    return history


def cells(text: str, row: str) -> list[str]:
    """The cells of the table row whose first cell is `row`."""
    for line in text.splitlines():
        parts = re.split(r"\s{2,}", line.strip())
        if parts[0] == row:
            return parts[1:]
    raise AssertionError(f"no row {row!r} in:\n{text}")


def test_activation_summary_reads_saturation_dead_units_and_gradient_ratio():
    n = 1000
    ramp = np.linspace(0.0, 0.5, n)
    loss = np.concatenate([np.full(300, 2.3), np.full(300, 0.05), np.full(400, 0.005)])
    tanh = synthetic(n, {
        "loss": loss, "nonfinite/count": np.zeros(n), "saturated_fraction/dense_1": ramp,
        "grad_norm/dense_1/kernel": np.full(n, 2.0), "grad_norm/output/kernel": np.full(n, 0.5),
    }, 0.91)
    relu = synthetic(n, {
        "loss": np.full(n, 2.3), "nonfinite/count": np.zeros(n), "dead_fraction/dense_1": np.full(n, 0.25),
        "grad_norm/dense_1/kernel": np.linspace(1.0, 3.0, n), "grad_norm/output/kernel": np.full(n, 1.0),
    }, 0.42)
    text = "\n".join(activation_summary({"tanh": tanh, "relu": relu}))
    assert cells(text, "test accuracy (end)") == ["0.91", "0.42"]
    # The 100-step mean ending at step s first drops below 0.1 when at most 2 of its steps are at 2.3
    # (s = 299 + 98), below 0.01 when at most 11 are at 0.05 (s = 599 + 89).
    assert cells(text, "step loss (100-step mean) fell below 0.1") == ["397", "never"]
    assert cells(text, "step loss (100-step mean) fell below 0.01") == ["688", "never"]
    saturated = cells(text, "tanh dense_1 saturated")
    assert saturated[0] == f"{ramp[:100].mean():.1%}" and saturated[-1] == f"{ramp[-100:].mean():.1%}"
    assert cells(text, "relu dense_1 dead") == ["25.0%"] * 5
    ratios = cells(text, "ratio dense_1/output")  # tanh start/middle/end, then relu start/middle/end
    assert ratios[:3] == ["4x"] * 3
    assert ratios[3] == f"{np.median(np.linspace(1, 3, n)[:100]):.3g}x" and ratios[5] == f"{np.median(np.linspace(1, 3, n)[-100:]):.3g}x"


def test_depth_summary_ladders_and_first_to_last_ratio():
    n = 200
    tags2 = {"loss": np.full(n, 1.0), "nonfinite/count": np.zeros(n)}
    tags4 = dict(tags2)
    for layer, value in (("dense_1", 0.001), ("dense_2", 0.01), ("output", 0.1)):
        tags2[f"grad_norm/{layer}/bias"] = np.full(n, value)
        tags2[f"grad_norm/{layer}/kernel"] = np.full(n, 0.3)
    for layer, value in (("dense_1", 1e-5), ("dense_2", 1e-4), ("dense_3", 1e-3), ("dense_4", 1e-2), ("output", 0.1)):
        tags4[f"grad_norm/{layer}/bias"] = np.full(n, value)
        tags4[f"grad_norm/{layer}/kernel"] = np.full(n, 0.003)
    text = "\n".join(depth_summary({"2-layers": synthetic(n, tags2, 0.9), "4-layers": synthetic(n, tags4, 0.1)}))
    bias_table = text[text.index("bias gradient norm"):]
    assert cells(bias_table, "dense_1") == ["0.001", "1.00e-05"]
    assert cells(bias_table, "dense_4") == ["0.01"]  # the 2-layer net has no dense_4: an empty cell
    assert cells(bias_table, "ratio dense_1/output") == ["0.01x", "0.0001x"]
    assert cells(text, "ratio dense_1/output")[:2] == ["1x", "1x"]  # the kernel table comes first


def test_init_summary_finds_nonfinite_step_dead_units_and_loss_at_step_zero():
    n = 100
    diverged = np.array([78.0, 900.0, 5e4, np.nan, np.nan] + [np.nan] * (n - 5))
    zeros = synthetic(n, {
        "loss": np.full(n, 2.302), "nonfinite/count": np.zeros(n),
        "dead_fraction/dense_1": np.ones(n), "dead_fraction/dense_2": np.ones(n),
        "grad_norm/dense_1/kernel": np.zeros(n), "grad_norm/output/kernel": np.zeros(n),
        "activation_std/dense_2": np.zeros(n),
    }, 0.1)
    large = synthetic(n, {
        "loss": diverged, "nonfinite/count": np.where(np.isnan(diverged), 3.0, 0.0),
        "dead_fraction/dense_1": np.full(n, 0.0), "dead_fraction/dense_2": np.full(n, 0.5),
        "grad_norm/dense_1/kernel": np.full(n, 40.0), "grad_norm/output/kernel": np.full(n, 900.0),
        "activation_std/dense_2": np.full(n, 123.0),
    }, 0.098)
    text = "\n".join(init_summary({"zeros": zeros, "large": large}))
    assert cells(text, "training loss at step 0") == ["2.3", "78"]
    assert cells(text, "first non-finite step") == ["never", "3"]
    assert cells(text, "dense_2") == ["100.0%", "-"]  # a diverged net's dead fraction means nothing
    assert cells(text, "all hidden layers, at step 0") == ["100.0%", "25.0%"]
    assert cells(text, "kernel gradient norm at step 0, output") == ["0", "900"]
    assert cells(text, "std of the last hidden layer's outputs at step 0") == ["0", "123"]
    assert cells(text, "test accuracy (end)") == ["0.1", "0.098"]
    plot = summarize(dataclasses.replace(PRESETS["init"], variants=PRESETS["init"].variants), {"zeros": zeros, "large": large})
    assert "large left out: non-finite from step 3" in plot


def test_first_step_below_uses_a_trailing_mean_and_never_counts_nan():
    series = synthetic(6, {"loss": np.array([3.0, 1.0, 1.0, np.nan, 0.0, 0.0])}, 0.5).series("loss")
    assert first_step_below(series, 2.0, 2) == 2
    assert first_step_below(series, 0.5, 2) == 5
    assert first_step_below(series, -1.0, 2) is None and first_step_below(series, 9.0, 10) is None


# --- the command ------------------------------------------------------------------------


def test_command_lists_presets_and_rejects_bad_input_in_one_line(capsys, tmp_path):
    assert main(["experiment", "--list"]) == 0
    listed = capsys.readouterr().out
    assert all(f"{name}: " in listed for name in PRESETS) and "uniform(-0.4,0.4)" in listed
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    for args, message in [
        (["experiment", "nope"], "no experiment named 'nope'; choose from tanh-vs-relu, depth, init"),
        (["experiment"], "name an experiment"),
        (["experiment", "depth", "--steps", "0"], "--steps must be >= 1"),
        (["experiment", "depth", "--data", str(bad)], "bad.npz"),
    ]:
        assert main(args) == 2, args
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("tblab: ") and message in err[0], (args, err)


@pytest.mark.slow
def test_depth_experiment_shows_the_ladder_on_real_digits(tmp_path):
    """With the classic init the back-propagated error shrinks towards the input, more with depth."""
    result = run_preset(PRESETS["depth"], steps=300, jobs=2, log_root=tmp_path)
    text = depth_summary(result.histories())
    bias = "\n".join(text)[("\n".join(text)).index("bias gradient norm"):]
    shrink = [float(c.rstrip("x")) for c in cells(bias, "ratio dense_1/output")]
    assert shrink[0] > shrink[1] > shrink[2] and shrink[2] < 0.01
    assert math.isfinite(result.outcomes[0].test_accuracy)
