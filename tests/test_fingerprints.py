"""The five classic failures reproduce their fingerprints on the offline default data,
and each scenario's expected fixes repair it (within 3 points of the baseline).

Seeds: every run uses its RunConfig's default seed, 0. The 2000-step runs are marked slow.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.data.mnist import load_mnist
from core.schema.fixes import apply_fixes
from core.schema.scenario import BUILTIN_DIR, discover, find_scenario
from core.train.loop import train

LN10 = math.log(10)
SOFTMAX_TWICE_FLOOR = math.log(1 + 9 / math.e)  # 1.4612
_cache: dict = {}


def run(name: str, fixes: tuple[str, ...] = (), steps: int | None = None):
    key = (name, fixes, steps)
    if key not in _cache:
        config = apply_fixes(find_scenario(name).config, fixes)
        _cache[key] = train(config.replace(steps=steps or config.steps), data=load_mnist())
    return _cache[key]


def hidden_layers(history):
    return [layer for layer in history.layers() if layer != "output"]


def test_fail1_goes_nonfinite_early_and_predicts_one_class():
    result = run("fail1", steps=200)
    loss = result.history.series("loss")
    assert loss.values[0] > 20  # the first loss is already huge
    assert not all(map(math.isfinite, loss.values)) and result.first_nonfinite_step < 200
    assert result.test_accuracy <= 0.11  # NaN logits: argmax is class 0 for every digit


def test_fail3_is_dead_from_step_zero():
    history = run("fail3", steps=300).history
    for layer in hidden_layers(history):
        assert history.series(f"dead_fraction/{layer}").values[0] == 1.0
        assert set(history.series(f"grad_norm/{layer}/kernel").values) == {0.0}
    loss = history.series("loss").values
    assert abs(loss[0] - LN10) < 0.01 and abs(loss[-1] - LN10) < 0.05


@pytest.mark.slow
def test_fail2_is_stuck_at_chance_with_a_vanishing_gradient_ladder():
    result = run("fail2")
    history = result.history
    last_500 = history.series("loss").array()[-500:]
    # Batch losses of 128 examples scatter by ~0.02 on their own; the plateau is their mean.
    assert all(abs(chunk.mean() - LN10) < 0.03 for chunk in np.split(last_500, 10))
    assert result.test_accuracy <= 0.20
    norms = [np.median(history.series(f"grad_norm/{layer}/kernel").array()[:100]) for layer in history.layers()]
    assert all(lower < upper for lower, upper in zip(norms, norms[1:]))  # smaller toward the input
    assert norms[-1] / norms[0] > 1e4  # orders of magnitude from the output to layer 1


@pytest.mark.slow
def test_fail4_tests_above_its_noisy_training_and_below_the_baseline():
    result, baseline = run("fail4"), run("baseline")
    train_accuracy = np.mean(result.history.series("accuracy").array()[-200:])
    assert result.test_accuracy > train_accuracy
    assert result.test_accuracy <= baseline.test_accuracy - 0.10


@pytest.mark.slow
def test_fail5_never_goes_below_the_softmax_twice_floor():
    result, baseline = run("fail5"), run("baseline")
    assert min(result.history.series("loss").values) >= SOFTMAX_TWICE_FLOOR
    # Full MNIST: 3+ points below the baseline (90.7% vs 96%). The 4000-digit offline sample
    # caps the baseline lower (92.8%), so there the gap measured is 2.1 points.
    gap = 0.03 if "full MNIST" in result.data_source else 0.015
    assert 0.80 <= result.test_accuracy <= baseline.test_accuracy - gap


@pytest.mark.slow
@pytest.mark.parametrize("name", [r.scenario.name for r in discover(BUILTIN_DIR) if r.scenario and r.scenario.expected_fixes])
def test_expected_fixes_repair_the_scenario(name):
    scenario = find_scenario(name)
    broken, fixed, baseline = run(name), run(name, tuple(scenario.expected_fixes)), run("baseline")
    if scenario.fix_shortfall:  # the scenario says why its fixes stop short: they must still close most of the gap
        assert fixed.test_accuracy - broken.test_accuracy > 0.8 * (baseline.test_accuracy - broken.test_accuracy)
    else:
        assert fixed.test_accuracy >= baseline.test_accuracy - 0.03, (broken.test_accuracy, fixed.test_accuracy)
    assert fixed.test_accuracy > broken.test_accuracy
