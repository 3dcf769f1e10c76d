"""Pilot tests of the lab as a learner uses it: before/after that holds across several fixes,
fix keys after a run, the results line, no "nan" for what was not measured, script names."""

from __future__ import annotations

import html
import re

from core.schema.scenario import BUILTIN_DIR
from tests.helpers import tiny_mnist
from tests.test_tui_app import SIZE, wait_for
from tui.app import make_app
from tui.widgets.accuracy_plot import AccuracyPlot
from tui.widgets.loss_plot import LossPlot
from tui.widgets.scenario_list import ScenarioList
from tui.widgets.status_line import StatusLine


def text(widget) -> str:
    return str(widget.render())


def screen_text(app) -> str:
    """Every character on the screen, read from Textual's own screenshot."""
    svg = app.export_screenshot()
    return "".join(html.unescape(t) for t in re.findall(r"<text [^>]*>(.*?)</text>", svg)).replace("\xa0", " ")


def list_line(app, index: int = 0) -> str:
    return str(app.query_one(ScenarioList).get_option_at_index(index).prompt)


def fail2_lab(tmp_path, steps: int = 400):
    """The built-in fail2 (8 sigmoid layers), training for real on the tiny data set."""
    return make_app(files=[BUILTIN_DIR / "fail2.py"], include_builtin=False, log_root=tmp_path / "logs",
                    mnist=tiny_mnist(), steps=steps, preload_tensorflow=False)


async def test_two_fixes_in_a_row_keep_the_original_run_as_before(tmp_path):
    from tui.lab_state import completed

    app = fail2_lab(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        slot = app.state.selected
        await pilot.press("space")
        original = slot.current
        await wait_for(pilot, lambda: original.last_step >= 60)
        # `a` (ReLU: restarts) and `i` (He init: restarts again) queued together, as a quick
        # learner types them: the ReLU-only run is aborted before it trained. (Pilot's press
        # waits for the app to go idle, which a streaming run delays by seconds.)
        app.simulate_key("a")
        app.simulate_key("i")
        await wait_for(pilot, lambda: slot.current is not original and slot.current.fixes == ("activation", "init"))
        both = slot.current
        assert both.run_id == original.run_id + 2  # a ReLU-only run came between them...
        assert not any(t.fixes == ("activation",) and completed(t) for t in slot.earlier)  # ...and was cut short
        await wait_for(pilot, lambda: both.last_step >= 1)
        assert slot.previous is original  # not the aborted ReLU-only run
        app.refresh_views()
        await pilot.pause(0.6)
        for plot in (app.query_one(LossPlot), app.query_one(AccuracyPlot)):
            assert plot.previous is original and "before: as-is" in str(plot.border_subtitle)
        await pilot.press("q")
    assert app.wait_for_training(timeout=30)


async def test_after_a_run_has_ended_a_fix_key_and_r_start_a_run_at_once(tmp_path):
    app = fail2_lab(tmp_path, steps=100)
    async with app.run_test(size=SIZE) as pilot:
        slot = app.state.selected
        await pilot.press("a")  # nothing ran yet: the key only toggles
        assert slot.current is None and slot.toggled == {"activation"}
        await pilot.press("space")
        first = slot.current
        await wait_for(pilot, lambda: not first.active)
        assert first.state == "finished"
        assert "a fix key or r runs it again" in text(app.query_one(StatusLine))
        assert "running" not in list_line(app) and "✓" not in list_line(app)  # no baseline ran: never "repaired"
        await pilot.press("i")  # the run has ended: the fix key starts the new run at once
        second = slot.current
        assert second is not first and second.fixes == ("activation", "init")
        assert second.active or second.state == "finished"  # started (100 tiny steps can be done already)
        await wait_for(pilot, lambda: not second.active)
        await pilot.press("r")  # and r always runs it again
        third = slot.current
        assert third is not second and third.fixes == second.fixes
        await wait_for(pilot, lambda: third.last_step >= 1)
        assert slot.previous is first  # the same config as second: the comparison stays with the original
        await pilot.press("q")
    assert app.wait_for_training(timeout=30)


async def test_the_results_line_shows_the_test_accuracy_of_the_run_and_of_before(tmp_path):
    app = fail2_lab(tmp_path, steps=100)
    async with app.run_test(size=SIZE) as pilot:
        slot = app.state.selected
        await pilot.press("space")
        first = slot.current
        await wait_for(pilot, lambda: not first.active)
        await pilot.press("a")
        second = slot.current
        await wait_for(pilot, lambda: not second.active)
        await pilot.pause()
        shown = text(app.views.results)
        now, before = shown.splitlines()
        assert f"test acc {second.test_accuracy:.3f}" in now and "100 steps" in now and " s · doctor: " in now
        assert before.startswith("before: as-is") and f"test acc {first.test_accuracy:.3f}" in before
        assert "doctor: " in before
        await pilot.press("q")
    # One doctor: the lab's verdict on each run is what `tblab diagnose` says of the folder it wrote.
    from core.doctor import diagnose
    from core.tensorboard.reader import read_run

    for trace, line in ((first, before), (second, now)):
        from_disk = diagnose(read_run(trace.logdir))
        assert (trace.primary and trace.primary.id) == (from_disk.primary and from_disk.primary.id), trace.fixes
        assert [f.id for f in trace.findings] == [f.id for f in from_disk.findings], trace.fixes
        assert line.split("doctor: ", 1)[1].startswith(trace.primary.title if trace.primary else "no finding")


async def test_no_nan_anywhere_on_screen_during_and_after_a_healthy_run(tmp_path):
    app = make_app(files=[BUILTIN_DIR / "baseline.py"], include_builtin=False, log_root=tmp_path / "logs",
                   mnist=tiny_mnist(), steps=300, preload_tensorflow=False)
    nan = re.compile(r"\bnan\b", re.I)
    async with app.run_test(size=SIZE) as pilot:
        assert not nan.search(screen_text(app))
        await pilot.press("space")
        trace = app.state.selected.current
        await wait_for(pilot, lambda: trace.last_step >= 0)
        assert not nan.search(screen_text(app)), screen_text(app)  # the first step: most is not measured yet
        await wait_for(pilot, lambda: not trace.active)
        await pilot.press("i")  # a second run: "before" is on screen too
        second = app.state.selected.current
        await wait_for(pilot, lambda: not second.active)
        app.refresh_views()
        await pilot.pause(0.6)
        shown = screen_text(app)
        assert "before: as-is" in shown and "test acc" in shown
        assert not nan.search(shown), shown
        await pilot.press("v")  # the input batch and doctor in place of the plots, and back
        await pilot.pause(0.3)
        assert not nan.search(screen_text(app))
        await pilot.press("q")


def test_a_real_nan_is_said_with_its_first_step():
    from core.schema.config import RunConfig
    from core.schema.history import StepRecord
    from tui.run_trace import RunTrace
    from tui.widgets.results_line import run_results

    trace = RunTrace(run_id=1, scenario_key="k", config=RunConfig(steps=10))
    trace.add_records([StepRecord(s, {"loss": 2.3 if s < 4 else float("nan"), "nonfinite/count": float(s >= 4)})
                       for s in range(8)])
    shown = str(run_results(trace))
    assert "NaN from step 4" in shown and "test acc –" in shown


async def test_a_learners_script_is_named_by_file_and_folder_not_like_the_builtin(tmp_path):
    import shutil
    from pathlib import Path

    folder = tmp_path / "my_scripts"
    folder.mkdir()
    shutil.copy(Path(__file__).resolve().parent.parent / "examples" / "baseline.py", folder / "fail2.py")
    app = make_app(files=[folder / "fail2.py"], log_root=tmp_path / "logs", preload_tensorflow=False)
    async with app.run_test(size=SIZE):
        lines = [list_line(app, i) for i in range(app.query_one(ScenarioList).option_count)]
        mine = [line for line in lines if "my_scripts" in line]
        assert len(mine) == 1 and mine[0].strip().startswith("fail2.py (my_scripts/)")
        builtin = [line for line in lines if line.strip().startswith("fail2 ")]
        assert len(builtin) == 1 and "my_scripts" not in builtin[0]


async def test_the_first_ctrl_p_right_after_a_run_opens_the_palette(tmp_path):
    from textual.command import CommandPalette

    app = fail2_lab(tmp_path, steps=60)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space")
        trace = app.state.selected.current
        while trace.active:  # no pause longer than a frame: the key comes right after the end
            await pilot.pause(0.02)
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        assert isinstance(app.screen, CommandPalette)
        await pilot.press("escape")
        await pilot.press("q")
