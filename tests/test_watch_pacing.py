"""A watched script's loss, batch accuracy and weight norms are exact on every step, and its verdict does
not depend on how the full statistics are paced (the pacing follows the step time, so the
machine's load): the same script at forced pacings (core/watch/pacing.py's
$TBLAB_FULL_STATS_EVERY: every step; every 10th, what a loaded machine gives) gets the same
doctor's verdict and the same per-step loss and accuracy. Four 50-step runs of examples/fail4.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.runs.watch import WatchRequest
from core.runs.watch_headless import watch
from core.schema.tags import ACCURACY, GRAD_NORM_GLOBAL, LOSS, WEIGHT_NORM, layer_tag
from core.watch.pacing import FIRST_FULL, FORCED_EVERY_ENV

FAIL4 = Path(__file__).resolve().parent.parent / "examples" / "fail4.py"
STEPS = 50


def paced_run(tmp_path, monkeypatch, every: int, *fixes: str):
    monkeypatch.setenv(FORCED_EVERY_ENV, str(every))  # the child inherits it
    return watch(WatchRequest(FAIL4, fixes, STEPS), tmp_path / f"every{every}", say=lambda text: None)


@pytest.mark.parametrize("fixes", [(), ("no_noise",)], ids=["noisy", "no_noise"])
def test_same_verdict_and_exact_loss_and_accuracy_at_every_pacing(tmp_path, monkeypatch, fixes):
    every_step = paced_run(tmp_path, monkeypatch, 1, *fixes)
    every_10th = paced_run(tmp_path, monkeypatch, 10, *fixes)
    assert every_step.steps_done == every_10th.steps_done == STEPS
    expected = "input_noise" if not fixes else None
    assert every_step.primary_finding == every_10th.primary_finding == expected
    assert [f["id"] for f in every_step.findings] == [f["id"] for f in every_10th.findings]
    first, *_, last = every_step.history.layers()  # the script's own names (W1 ... W3)
    assert (first, last) == ("W1", "W3")
    for tag in (LOSS, ACCURACY, layer_tag(WEIGHT_NORM, f"{first}/kernel"), layer_tag(WEIGHT_NORM, f"{last}/bias")):
        dense, sparse = every_step.history.series(tag), every_10th.history.series(tag)
        assert dense.steps == sparse.steps == list(range(STEPS)), tag  # every step, however paced
        assert sparse.values == pytest.approx(dense.values, abs=1e-5), tag  # and the same values
    # The full statistics were paced as forced: all steps, or the first ones then every 10th.
    grad_steps = every_10th.history.series(GRAD_NORM_GLOBAL).steps
    assert grad_steps == [*range(FIRST_FULL), *range(FIRST_FULL + 9, STEPS, 10)]
    assert every_step.history.series(GRAD_NORM_GLOBAL).steps == list(range(STEPS))
