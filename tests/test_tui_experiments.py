"""The experiments screen (key p): a preset and the pipeline-speed comparison run from the lab."""

from __future__ import annotations

import threading

from tests.helpers import tiny_mnist
from tests.test_tui_app import SIZE, text, wait_for
from tui.app import make_app


async def test_p_runs_a_preset_shows_its_summary_and_escape_closes(tmp_path):
    app = make_app(log_root=tmp_path, mnist=tiny_mnist(), steps=20, preload_tensorflow=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("p")
        screen = app.screen
        assert screen.id == "experiments"
        listed = [str(option.prompt) for option in screen.query_one("#experiments-list").options]
        assert len(listed) == 4 and "Depth: the per-layer gradient ladder" in listed[1] and "Pipeline speed" in listed[3]
        assert "well under a minute" in listed[3]
        assert app.check_action("start", ()) is False and app.check_action("toggle_fix", ("init",)) is False
        await pilot.press("down", "enter")  # depth: 3 variants x 20 steps (the lab's --steps) in 2 processes
        assert screen.running == "depth" and screen.stop in app._stops  # quitting the lab stops it too
        await wait_for(pilot, lambda: not screen.running, timeout=120)
        assert screen.error == ""
        shown = text(screen.query_one("#experiments-text"))
        assert "Depth: the per-layer gradient ladder (depth)" in screen.summary  # summarize()'s heading
        assert "2-layers 20, 4-layers 20, 8-layers 20" in screen.summary and "Depth: the per-layer" in shown
        assert "8-layers   done: test accuracy" in shown  # the progress lines stay above the summary
        assert (tmp_path / "experiments" / "depth").is_dir()
        stop = screen.stop
        assert not stop.is_set()
        await pilot.press("escape")
        assert app.screen.id != "experiments" and stop.is_set()


async def test_quitting_sets_the_stop_of_a_running_experiment(tmp_path):
    app = make_app(log_root=tmp_path, mnist=tiny_mnist(), steps=20, preload_tensorflow=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("p")
        screen = app.screen
        stop = threading.Event()
        app.register_stop(stop)
        app.shutdown_background()
        assert stop.is_set()
        await pilot.press("escape")
        assert screen.stop.is_set()


def test_measure_pipeline_speed_on_tiny_settings():
    from core.lessons.pipeline_speed import VARIANTS, measure, render_text

    result = measure(rounds=1, steps=3, warmup=1, examples=600)
    assert sorted(row.name for row in result.rows) == sorted(VARIANTS)
    assert all(row.correct == "yes" for row in result.rows)
    assert all(row.sustained > 0 and row.first_batch >= 0 for row in result.rows)
    assert [r.sustained for r in result.rows] == sorted((r.sustained for r in result.rows), reverse=True)
    shown = render_text(result, width=80)
    assert "steps/s (sustained)" in shown and "█" in shown and all(name in shown for name in VARIANTS)
    stopped = threading.Event()
    stopped.set()
    assert measure(rounds=1, steps=3, warmup=1, examples=600, stop=stopped).rows == []
