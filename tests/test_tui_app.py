"""Pilot tests of the lab: selecting, revealing, toggling fixes, broken scenarios, canned and real runs, quitting."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.helpers import tiny_mnist
from tests.tui_canned import VANISHING, canned_results, digits, feed_run
from textual.command import CommandList

from tui.app import LabApp, make_app
from tui.lab_runs import LabRuns
from tui.run_worker import RunSpec
from tui.widgets.findings_panel import FindingsPanel
from tui.widgets.fix_panel import FixPanel
from tui.widgets.input_view import InputView
from tui.widgets.loss_plot import LossPlot
from tui.widgets.scenario_info import ScenarioInfo
from tui.widgets.scenario_list import ScenarioList
from tui.widgets.status_line import StatusLine

SIZE = (120, 34)

# Explodes within a step or two on the tiny data set, so the doctor speaks at once.
EXPLODING = '''
from core.schema.config import RunConfig
from core.schema.scenario import Scenario

SCENARIO = Scenario(
    name="explode", title="explode: a learning rate of 1000", symptom="It blows up.", diagnosis="lr 1000.",
    config=RunConfig(hidden_layers=1, hidden_units=16, learning_rate=1000.0, batch_size=32, steps=100000,
                     histogram_every=10, image_every=20, eval_every=10),
    expected_fixes=("lr_down",),
)
'''


def text(widget) -> str:
    return str(widget.render())


def canned_app() -> LabApp:
    return LabApp(canned_results(), preload_tensorflow=False)


async def wait_for(pilot, condition, timeout: float = 90.0) -> None:
    """Let the app run until condition() holds (real training: TensorFlow import, tracing)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the lab")
        await pilot.pause(0.1)


async def test_selecting_a_scenario_shows_its_symptom_and_hides_the_diagnosis():
    app = canned_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down")
        info = text(app.query_one(ScenarioInfo))
        assert "fail5: softmax output layer" in info and "loss stalls" in info
        assert "applied twice" not in info and "press ? to reveal" in info
        await pilot.press("question_mark")
        assert "applied twice" in text(app.query_one(ScenarioInfo))
        assert app.state.selected.revealed and not app.state.slots[0].revealed


async def test_fix_keys_toggle_fixes_and_change_the_config():
    app = canned_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a", "L")
        slot = app.state.selected
        assert slot.toggled == {"activation", "lr_up"}
        config = slot.effective_config()
        assert config.activation == "relu" and config.learning_rate == pytest.approx(1.0)
        panel = app.query_one(FixPanel).render_text()
        assert "■ a ReLU activation" in panel and "■ L learning rate x 10" in panel and "□ i" in panel
        assert "8×100 relu" in text(app.query_one(ScenarioInfo)) and "lr 1" in text(app.query_one(ScenarioInfo))
        await pilot.press("a")
        assert slot.toggled == {"lr_up"}
        await pilot.press("down")  # fixes are per scenario
        assert app.state.selected.toggled == set()


async def test_a_broken_scenario_file_is_listed_with_its_error_and_cannot_run(tmp_path):
    (tmp_path / "good.py").write_text(EXPLODING)
    (tmp_path / "broken.py").write_text("SCENARIO = (\n")
    app = make_app([tmp_path], include_builtin=False, log_root=tmp_path / "logs", preload_tensorflow=False)
    async with app.run_test(size=SIZE) as pilot:
        options = app.query_one(ScenarioList)
        assert options.option_count == 2
        assert "✗ broken" in str(options.get_option_at_index(0).prompt)
        assert "syntax error" in text(app.query_one(ScenarioInfo))
        await pilot.press("space", "a")
        assert app.state.runs == {} and app.state.selected.toggled == set()
        assert app.check_action("start", ()) is None  # shown, greyed out
        await pilot.press("down")
        assert app.check_action("start", ()) is True


async def test_a_missing_scenario_folder_is_shown_not_fatal(tmp_path):
    app = make_app([tmp_path / "nope"], include_builtin=False, preload_tensorflow=False)
    async with app.run_test(size=SIZE):
        assert "no such folder" in text(app.query_one(ScenarioInfo))


async def test_canned_runs_reach_plots_inputs_findings_and_status():
    app = canned_app()
    async with app.run_test(size=SIZE) as pilot:
        first = await feed_run(pilot, 0, (), healthy=False, steps=300, findings=[VANISHING])
        second = await feed_run(pilot, 0, ("activation",), healthy=True, steps=150, images=digits(4.0), end=None)
        slot = app.state.selected
        assert slot.previous.run_id == first and slot.current.run_id == second
        plot = app.query_one(LossPlot)
        await pilot.pause(0.4)  # one redraw tick
        assert plot.current is slot.current and plot.previous is slot.previous
        assert plot._drawn_key is not None and "▶" in str(app.query_one(ScenarioList).get_option_at_index(0).prompt)
        inputs = app.query_one(InputView)
        assert inputs._strips and "σ 4" in str(inputs.border_subtitle)
        findings = text(app.query_one(FindingsPanel).query_one("Static"))
        assert "before: Vanishing gradients" in findings
        status = text(app.query_one(StatusLine))
        assert "150/400" in status and "canned test data" in status and "canned-activation" in status


def exploding_lab(tmp_path):
    """A lab with one real scenario (a 100000-step run that blows up), training on tiny data."""
    (tmp_path / "explode.py").write_text(EXPLODING)
    return make_app([tmp_path], include_builtin=False, log_root=tmp_path / "logs", mnist=tiny_mnist(),
                    preload_tensorflow=False)


async def test_a_real_run_trains_reports_findings_and_stops(tmp_path):
    logs = tmp_path / "logs"
    app = exploding_lab(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space")
        trace = app.state.selected.current
        await wait_for(pilot, lambda: trace.last_step >= 3 and trace.findings)
        assert trace.series("loss").count >= 4 and trace.images is not None
        assert {f.id for f in trace.findings} & {"exploding", "lr_too_high", "nonfinite"}
        await pilot.press("x")
        await wait_for(pilot, lambda: not trace.active)
        assert trace.state == "stopped" and trace.last_step < 99999
        assert app.wait_for_training(timeout=10)
    assert list((logs / "explode").glob("*/train/events.out.tfevents.*"))


async def test_toggling_a_fix_mid_run_restarts_with_the_new_config(tmp_path):
    app = exploding_lab(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space")
        first = app.state.selected.current
        await wait_for(pilot, lambda: first.last_step >= 50)  # long enough to be the "before"
        await pilot.press("l")
        second = app.state.selected.current
        assert second is not first and second.config.learning_rate == pytest.approx(100.0)
        assert second.fixes == ("lr_down",) and first.stopping
        await wait_for(pilot, lambda: second.last_step >= 1)
        assert first.state == "stopped" and app.state.selected.previous is first
        await pilot.press("q")
    assert app.wait_for_training(timeout=30)
    assert second.state in ("stopped", "running")  # the quit may beat the worker's last message


async def test_quitting_mid_run_stops_the_training_thread(tmp_path):
    app = exploding_lab(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space")
        trace = app.state.selected.current
        await wait_for(pilot, lambda: trace.last_step >= 2)
        await pilot.press("q")
    assert app.runs.closed
    assert app.wait_for_training(timeout=30)  # a 100 000-step run: returned because it was told to stop


async def palette_titles(pilot, query: str = "") -> list[str]:
    """The commands the palette lists for `query` (all it would discover, when empty)."""
    await pilot.press("ctrl+p")
    await pilot.pause()
    if query:
        await pilot.press(*query)
    await pilot.pause(0.3)
    palette = pilot.app.screen
    titles = [str(option.prompt).split("\n")[0] for option in palette.query_one(CommandList).options]
    await pilot.press("escape")
    await pilot.pause()
    return titles


async def test_the_command_palette_offers_what_is_possible_now_and_every_fix():
    app = canned_app()
    async with app.run_test(size=SIZE) as pilot:
        idle = await palette_titles(pilot)
        assert {"Start run", "Reveal diagnosis", "Start TensorBoard", "Toggle fix: ReLU activation (a)"} <= set(idle)
        assert "Stop run" not in idle and "Rerun" in idle  # nothing runs: no Stop; `r` always runs
        await pilot.press("ctrl+p")
        await pilot.press(*"relu")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert app.state.selected.toggled == {"activation"}
        await feed_run(pilot, 0, (), healthy=True, steps=50, end=None)  # the worker's messages, no thread
        trace = app.state.selected.current
        app.runs = LabRuns(lambda body, name: None, lambda spec, stop: None)  # that run counts as going
        app.runs.launch(RunSpec(trace.run_id, trace.name, trace.config, trace.fixes, Path(trace.logdir)))
        going = await palette_titles(pilot)
        assert {"Stop run", "Rerun"} <= set(going) and "Start run" not in going
        assert [t for t in await palette_titles(pilot, "stop") if "Stop" in t] == ["Stop run"]
        await pilot.press("down", "down", "question_mark")
        assert "Reveal diagnosis" not in await palette_titles(pilot)  # the broken scenario: nothing to reveal or run


async def test_tensorboard_starts_on_loopback_and_stops_with_the_lab(tmp_path):
    app = make_app(include_builtin=False, log_root=tmp_path / "logs", preload_tensorflow=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("t")
        await wait_for(pilot, lambda: app.board_url.startswith("http"), timeout=120)
        board = app.board
        assert app.board_url.startswith("http://127.0.0.1:") and app.board_url in text(app.query_one(StatusLine))
        assert app.check_action("board", ()) is None  # one TensorBoard per lab
        await pilot.press("q")
    assert board.process.poll() is not None


async def test_a_key_right_after_a_cursor_move_acts_on_the_new_scenario():
    """In a real terminal a key can be handled before the list's OptionHighlighted message."""
    app = canned_app()
    async with app.run_test(size=SIZE) as pilot:
        app.views.scenarios.highlighted = 1  # its message is still queued
        app.action_toggle_fix("logits")
        assert app.state.slots[1].toggled == {"logits"} and app.state.slots[0].toggled == set()
        await pilot.pause()


async def test_runs_keep_updating_while_the_command_palette_is_open():
    app = canned_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        run_id = await feed_run(pilot, 0, (), healthy=True, steps=100, end=None)
        await pilot.press("escape")
        assert app.state.runs[run_id].last_step == 99
        assert "100/400" in text(app.views.status)


async def test_the_orderings_screen_shows_all_six_and_goes_back():
    app = canned_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("e")
        screen = app.screen
        await wait_for(pilot, lambda: screen.report is not None or screen.error, timeout=120)
        shown = text(screen.query_one("#orderings-text"))
        assert screen.error == "" and "6. repeat → batch → shuffle" in shown and "Sensible here:" in shown
        assert app.check_action("start", ()) is False and app.check_action("toggle_fix", ("init",)) is False
        await pilot.press("a", "escape")
        assert app.screen.id != "orderings" and app.state.selected.toggled == set()


async def test_plots_survive_nan_losses_and_all_zero_gradients():
    from core.schema.history import StepRecord
    from tui.messages import StepBatch
    from tui.widgets.grad_norm_plot import GradNormPlot

    app = canned_app()
    async with app.run_test(size=SIZE) as pilot:
        slot = app.state.selected
        spec, trace = app.state.new_run(slot)
        app.refresh_views()
        nan_from = 5
        batch = [
            StepRecord(step, {
                "loss": 2.3 if step < nan_from else float("nan"), "accuracy": 0.1, "nonfinite/count": float(step >= nan_from),
                **{f"grad_norm/{layer}/kernel": 0.0 for layer in ("dense_1", "dense_2", "output")},
            })
            for step in range(20)
        ]
        app.post_message(StepBatch(spec.run_id, batch, sent_at=1.0))
        await pilot.pause()
        app.refresh_views()
        await pilot.pause()
        assert trace.first_nonfinite_step == nan_from
        assert app.query_one(LossPlot).border_title == f"loss: NaN/Inf from step {nan_from}"
        grads = app.query_one(GradNormPlot)
        assert "every kernel gradient is 0" in grads.border_title and "= 0: 1 2 out" in str(grads.border_subtitle)
        assert "cannot draw" not in str(grads.render())
