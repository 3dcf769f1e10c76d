"""Pilot tests of a plain script in the lab: listed as a script, inapplicable fixes greyed
out with their reason, start, a fix toggled mid-run, a save that re-runs it, stop."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from tests.test_tui_app import SIZE, text, wait_for
from tui.app import make_app
from tui.widgets.fix_panel import FixPanel
from tui.widgets.grad_norm_plot import GradNormPlot
from tui.widgets.layer_colors import OUTPUT_COLOR
from tui.widgets.trace_plot import hex_color
from tui.widgets.scenario_info import ScenarioInfo
from tui.widgets.scenario_list import ScenarioList

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def script_lab(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    shutil.copy(EXAMPLES / "baseline.py", folder / "my_net.py")
    return make_app([folder], include_builtin=False, log_root=tmp_path / "logs", preload_tensorflow=False), folder / "my_net.py"


async def test_a_script_is_listed_and_inapplicable_fixes_say_why(tmp_path):
    app, _ = script_lab(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        assert "my_net.py (mine/) your script: custom loop" in str(app.query_one(ScenarioList).get_option_at_index(0).prompt)
        slot = app.state.selected
        assert slot.script is not None and not slot.broken
        panel = app.query_one(FixPanel).render_text()
        assert "ReLU activation: the script uses no sigmoid or tanh" in panel
        assert "2 hidden layers: the script builds its own layers" in panel
        greyed = app.query_one("#fix-depth")
        assert greyed.has_class("-greyed") and "…" not in str(greyed.render())  # wraps, whole
        await pilot.pause()
        assert greyed.size.height >= 1
        await pilot.press("a", "question_mark")
        assert slot.toggled == set() and not slot.revealed
        await pilot.press("l")
        assert slot.toggled == {"lr_down"}
        assert "save the file to run it again" in text(app.query_one(ScenarioInfo))


async def test_start_toggle_save_and_stop_a_watched_script(tmp_path):
    app, script = script_lab(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        slot = app.state.selected
        await pilot.press("space")
        first = slot.current
        await wait_for(pilot, lambda: first.last_step >= 50 and any("step 0: loss" in line for line in slot.script.output))
        assert "loss" in text(app.query_one(ScenarioInfo)).split("output")[1]  # the script's own output, in the lab
        # The panels name the layers as the script does (W1, W2, W3), in its order.
        assert first.layer_order == ("W1", "W2", "W3") and first.output_layer == "W3"
        assert [name for name, _ in first.layer_series("grad_norm", "kernel")] == ["W1", "W2", "W3"]
        await wait_for(pilot, lambda: app.query_one(GradNormPlot).border_subtitle)  # drawn just after a frame
        legend = app.query_one(GradNormPlot).border_subtitle
        assert "]W1[" in legend and "]W2[" in legend and f"[{hex_color(OUTPUT_COLOR)}]W3[" in legend  # the output layer's red
        await pilot.press("l")  # a fix mid-run restarts the script with it
        second = slot.current
        assert second is not first and second.fixes == ("lr_down",)
        await wait_for(pilot, lambda: second.last_step >= 50)  # long enough to be the next "before"
        assert slot.previous is first and not first.active
        now = time.time() + 5
        os.utime(script, (now, now))  # the learner saves the file
        await wait_for(pilot, lambda: slot.current is not second, timeout=10)
        third = slot.current
        await wait_for(pilot, lambda: third.last_step >= 3)
        assert slot.previous is second  # drawn dimmed behind the new run
        await pilot.press("x")
        await wait_for(pilot, lambda: not third.active, timeout=15)
        assert third.state == "stopped"
        assert app.wait_for_training(10)
