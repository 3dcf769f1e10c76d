"""Keras fit's probe pass (core/watch/keras_fit.py) is compiled into one tf.function, its
activations recorded while it is traced: it measures what the eager pass measures. One
21-step run of examples/keras_fail2.py (8 sigmoid layers) with the activation fix (a patch
applied inside the trace), compiled and eager ($TBLAB_EAGER_PROBE=1).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.runs.watch import WatchRequest
from core.runs.watch_headless import watch
from core.schema.tags import DEAD_FRACTION, GRAD_NORM, INPUT_STATS, LOSS_INPUT_PROBABILITIES, SATURATED_FRACTION, layer_tag
from core.watch.keras_fit import EAGER_NOTICE, EAGER_PROBE_ENV

SCRIPT = Path(__file__).resolve().parent.parent / "examples" / "keras_fail2.py"
STEPS = 21


def probed(tmp_path, monkeypatch, eager: bool):
    monkeypatch.setenv(EAGER_PROBE_ENV, "1" if eager else "0")
    return watch(WatchRequest(SCRIPT, ("activation",), STEPS), tmp_path / ("eager" if eager else "compiled"), say=lambda t: None)


def test_the_compiled_probe_measures_what_the_eager_one_does(tmp_path, monkeypatch):
    compiled, eager = probed(tmp_path, monkeypatch, False), probed(tmp_path, monkeypatch, True)
    assert compiled.steps_done == eager.steps_done == STEPS
    assert not any(EAGER_NOTICE in notice for notice in compiled.notices)  # it was compiled
    layers = compiled.history.layers()  # Keras's own layer names: dense ... dense_7, then the output layer
    assert len(layers) == 9 and layers == eager.history.layers()
    first, hidden_last, out = layers[0], layers[-2], layers[-1]
    tags = [layer_tag(GRAD_NORM, f"{first}/kernel"), layer_tag(GRAD_NORM, f"{out}/kernel"), layer_tag(DEAD_FRACTION, first),
            layer_tag(DEAD_FRACTION, hidden_last), LOSS_INPUT_PROBABILITIES, *INPUT_STATS]
    for tag in tags:
        a, b = compiled.history.series(tag), eager.history.series(tag)
        assert a.steps == b.steps == [0, 10, 20], tag
        assert a.values == pytest.approx(b.values, rel=1e-4, abs=1e-6), tag
    # The activation fix made the sigmoids ReLUs inside the trace too: dead fractions, no saturation.
    assert not any(tag.startswith(SATURATED_FRACTION) for tag in compiled.history.train)
    assert compiled.primary_finding == eager.primary_finding
