"""Rules read from the loss curves: overfitting (the test loss climbs while the training loss
falls) and a loss that does not change at all (issue 23: it is a finding, not "no problem")."""

from __future__ import annotations

import math

import pytest

from core.doctor import diagnose
from tests.test_doctor import build, edit, healthy_records, ids


@pytest.fixture(scope="module")
def healthy():
    return healthy_records()


def _val(losses: list[float], every: int = 25) -> dict[int, dict[str, float]]:
    return {every * (i + 1) - 1: {"loss": loss, "accuracy": 0.9} for i, loss in enumerate(losses)}


def test_a_test_loss_that_climbs_while_training_falls_is_overfitting(healthy):
    climbing = [1.6, 0.9, 0.55, 0.42, 0.40, 0.43, 0.50, 0.58, 0.66, 0.74, 0.80, 0.86]
    diagnosis = diagnose(build(healthy, val=_val(climbing)))
    finding = diagnosis.get("overfitting")
    assert finding is not None and diagnosis.primary is finding
    assert "lowest at step 124 (0.4)" in finding.evidence and "climbed to 0.8" in finding.evidence


def test_a_test_loss_that_levels_off_or_wobbles_is_not_overfitting(healthy):
    level = [1.6, 0.9, 0.55, 0.42, 0.40, 0.41, 0.39, 0.40, 0.42, 0.41, 0.40, 0.41]
    assert "overfitting" not in ids(diagnose(build(healthy, val=_val(level))))
    one_bad = level[:-1] + [0.7]  # one noisy evaluation, not a climb
    assert "overfitting" not in ids(diagnose(build(healthy, val=_val(one_bad))))


def test_a_loss_exactly_flat_for_many_steps_is_a_finding(healthy):
    flat = edit(healthy, "loss", math.log(10), start=100)
    diagnosis = diagnose(build(flat))
    assert diagnosis.primary is not None and diagnosis.primary.id == "loss_flat"
    assert "exactly 2.30259 on every record from step 100" in diagnosis.primary.evidence
    # Batch noise of 1e-3 is a loss that changes, however little.
    wiggle = edit(healthy, "loss", lambda s: math.log(10) + 1e-3 * math.sin(s), start=100)
    assert "loss_flat" not in ids(diagnose(build(wiggle)))
