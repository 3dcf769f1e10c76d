"""Snapshots of the lab's main states with canned data (update with `pytest --snapshot-update`)."""

from __future__ import annotations

from tests.tui_canned import VANISHING, canned_results, digits, feed_run
from tui.app import LabApp

WIDE = (120, 34)
SMALL = (80, 24)
REDRAW = 0.6  # plots redraw on a 0.25 s timer; the footer settles after its first recompose


def app() -> LabApp:
    return LabApp(canned_results(), preload_tensorflow=False)


async def before_and_after(pilot) -> None:
    """fail2 as-is (vanishing gradients), then with ReLU: the first run stays on the plots, dimmed."""
    await feed_run(pilot, 0, (), healthy=False, steps=400, findings=[VANISHING])
    await feed_run(pilot, 0, ("activation",), healthy=True, steps=250, end=None)
    await pilot.pause(REDRAW)


async def settle(pilot) -> None:
    await pilot.pause(REDRAW)


def test_idle(snap_compare):
    assert snap_compare(app(), terminal_size=WIDE, run_before=settle)


def test_before_and_after_a_fix(snap_compare):
    assert snap_compare(app(), terminal_size=WIDE, run_before=before_and_after)


def test_softmax_floor_noisy_inputs_and_revealed_diagnosis(snap_compare):
    async def run_before(pilot):
        await pilot.press("down", "question_mark")
        await feed_run(pilot, 1, (), healthy=True, steps=400, images=digits(4.0), findings=[VANISHING])
        await pilot.pause(REDRAW)

    assert snap_compare(app(), terminal_size=WIDE, run_before=run_before)


def test_broken_scenario_selected(snap_compare):
    assert snap_compare(app(), terminal_size=WIDE, press=["down", "down"], run_before=settle)


def test_small_terminal(snap_compare):
    assert snap_compare(app(), terminal_size=SMALL, run_before=before_and_after)


def test_small_terminal_details(snap_compare):
    async def run_before(pilot):
        await before_and_after(pilot)
        await pilot.press("v")
        await pilot.pause(REDRAW)

    assert snap_compare(app(), terminal_size=SMALL, run_before=run_before)
