"""Pilot tests of the lab as a learner uses it: before/after that holds across several fixes,
fix keys after a run, the results line, no "nan" for what was not measured, script names."""

from __future__ import annotations

from core.schema.scenario import BUILTIN_DIR
from tests.helpers import tiny_mnist
from tests.test_tui_app import SIZE, wait_for
from tui.app import make_app
from tui.widgets.accuracy_plot import AccuracyPlot
from tui.widgets.loss_plot import LossPlot


def fail2_lab(tmp_path, steps: int = 400):
    """The built-in fail2 (8 sigmoid layers), training for real on the tiny data set."""
    return make_app(files=[BUILTIN_DIR / "fail2.py"], include_builtin=False, log_root=tmp_path / "logs",
                    mnist=tiny_mnist(), steps=steps, preload_tensorflow=False)


async def test_two_fixes_in_a_row_keep_the_original_run_as_before(tmp_path):
    app = fail2_lab(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        slot = app.state.selected
        await pilot.press("space")
        original = slot.current
        await wait_for(pilot, lambda: original.last_step >= 60)
        await pilot.press("a")  # ReLU: restarts...
        relu = slot.current
        await pilot.press("i")  # ...and He init right away: the ReLU-only run is aborted before it trained
        both = slot.current
        assert relu.last_step < 50, "the second run must be aborted early for this test to mean anything"
        await wait_for(pilot, lambda: both.last_step >= 1)
        assert both.fixes == ("activation", "init")
        assert slot.previous is original  # not the aborted ReLU-only run
        app.refresh_views()
        await pilot.pause(0.6)
        for plot in (app.query_one(LossPlot), app.query_one(AccuracyPlot)):
            assert plot.previous is original and "before: as-is" in str(plot.border_subtitle)
        await pilot.press("q")
    assert app.wait_for_training(timeout=30)
