"""The schema's single definitions: tag names, reference losses, NaN in JSON."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from core.schema import tags
from core.schema.history import blew_up
from core.schema.json_safe import dumps, json_safe


def test_layer_tags_and_reference_losses():
    assert tags.layer_tag(tags.GRAD_NORM, "dense_1", tags.KERNEL) == "grad_norm/dense_1/kernel"
    assert tags.layer_tag(tags.DEAD_FRACTION, "dense_2") == "dead_fraction/dense_2"
    assert tags.CHANCE_LOSS == pytest.approx(2.302585) and tags.SOFTMAX_FLOOR == pytest.approx(1.461150, abs=1e-6)
    assert tags.chance_loss(2) == pytest.approx(math.log(2)) and tags.softmax_floor(2) == pytest.approx(math.log(1 + 1 / math.e))


def test_a_step_blew_up_when_its_loss_or_its_nonfinite_count_says_so():
    assert not blew_up({tags.LOSS: 2.3, tags.NONFINITE_COUNT: 0.0})
    assert blew_up({tags.LOSS: math.nan}) and blew_up({tags.LOSS: 2.3, tags.NONFINITE_COUNT: 4.0})
    assert not blew_up({})  # a foreign record without either tag


def test_nan_and_inf_go_to_json_as_null_at_any_depth():
    value = {"a": math.nan, "b": [1.0, math.inf, {"c": -math.inf}], "d": (np.float64("nan"), 2), "e": "nan", "f": 3}
    assert json_safe(value) == {"a": None, "b": [1.0, None, {"c": None}], "d": [None, 2], "e": "nan", "f": 3}
    assert json.loads(dumps(value)) == json_safe(value)
    with pytest.raises(TypeError):
        dumps({"x": object()})  # what JSON cannot hold is an error, not a made-up token
