"""A long run's History stays bounded: the first and last records whole, the middle thinned
evenly, so a million-step run does not keep a million values per tag."""

from __future__ import annotations

import numpy as np

from core.schema import history as H
from core.schema.history import History, Series, StepRecord


def test_a_long_history_keeps_head_and_tail_whole_and_a_thinned_even_middle():
    history = History()
    steps = 60_000
    for step in range(steps):
        history.add(StepRecord(step, {"loss": float(step), "grad_norm/global": -float(step)}))
    for tag in ("loss", "grad_norm/global"):
        series = history.series(tag)
        assert len(series) <= H.BOUND_FROM + H.BOUND_EVERY
        assert series.steps[: H.KEEP_HEAD] == list(range(H.KEEP_HEAD))
        tail_start = len(series) - H.KEEP_TAIL
        assert series.steps[tail_start:][-1] == steps - 1
        assert np.all(np.diff(series.steps[tail_start:]) == 1)  # the recent past is whole: the doctor reads it
        middle = np.diff(series.steps[H.KEEP_HEAD:tail_start])
        assert middle.size > 100 and middle.max() == middle.min()  # evenly thinned
        assert np.all(np.diff(series.steps) > 0)
        sign = -1 if tag.startswith("grad") else 1
        assert series.values == [sign * float(s) for s in series.steps]  # values stay with their steps


def test_a_short_history_is_untouched():
    history = History()
    for step in range(H.BOUND_FROM):
        history.add(StepRecord(step, {"loss": 1.0}))
    history.bound()
    assert history.series("loss").steps == list(range(H.BOUND_FROM))


def test_thinning_survives_steps_that_go_back():
    series = Series()
    for step in list(range(8000)) + list(range(8000)):  # a restart logged into the same series
        series.append(step, 0.0)
    for _ in range(3):
        series.thin()
    assert len(series) <= H.BOUND_FROM and series.steps[-1] == 7999


def test_a_history_filled_directly_is_bounded_by_bound():
    history = History()
    history.train["loss"] = Series(steps=list(range(100_000)), values=[0.0] * 100_000)
    history.bound()
    assert len(history.series("loss")) <= H.BOUND_FROM


def test_records_added_in_blocks_equal_records_added_one_by_one():
    """A block of records goes in a column per tag, runs of one tag layout at a time (a
    watched script's light and full steps differ), and is bounded like single records."""
    def record(step):
        return StepRecord(step, {"loss": float(step), "grad_norm/global": 2.0 * step} if step % 3 else {"loss": -1.0})

    one_by_one, in_blocks = History(), History()
    for step in range(H.BOUND_FROM - 10):  # short of thinning, which depends on when it runs
        one_by_one.add(record(step))
    for start in range(0, H.BOUND_FROM - 10, 70):
        in_blocks.add_many([record(step) for step in range(start, min(start + 70, H.BOUND_FROM - 10))])
    assert set(in_blocks.train) == {"loss", "grad_norm/global"}
    for tag, series in one_by_one.train.items():
        assert (in_blocks.train[tag].steps, in_blocks.train[tag].values) == (series.steps, series.values)
    for start in range(H.BOUND_FROM - 10, 30_000, 70):
        in_blocks.add_many([record(step) for step in range(start, start + 70)])
    assert len(in_blocks.series("loss")) <= H.BOUND_FROM + H.BOUND_EVERY
