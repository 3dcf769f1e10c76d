"""The lab's keys: one binding per action and one per fix (shown in the footer), and the
same actions in the command palette with their longer explanations."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from textual.app import SystemCommand
from textual.binding import Binding

from core.schema.fixes import FIXES

APP_BINDINGS = [
    Binding("space", "start", "Start", id="run.start"),
    Binding("r", "restart", "Restart", id="run.restart"),
    Binding("x", "stop", "Stop", id="run.stop"),
    Binding("question_mark", "reveal", "Diagnosis", key_display="?", id="scenario.reveal"),
    Binding("t", "board", "Board", tooltip="TensorBoard on 127.0.0.1", id="board.start"),
    Binding("v", "toggle_details", "Details", tooltip="show or hide the input batch and the doctor", id="view.details"),
    Binding("e", "orderings", "Orderings", tooltip="the six shuffle/batch/repeat orderings, as tf.data ran them",
            id="view.orderings"),
    Binding("p", "experiments", "Experiments", tooltip="the bonus experiments and the tf.data pipeline speeds",
            id="view.experiments"),
    Binding("q", "quit", "Quit", id="app.quit"),
]
FIX_GROUP = Binding.Group("fixes", compact=True)
FIX_BINDINGS = [
    Binding(fix.key, f"toggle_fix('{name}')", fix.label, tooltip=fix.reason, group=FIX_GROUP, id=f"fix.{name}")
    for name, fix in FIXES.items()
]
# Fixes come right after the run keys, so a narrow footer still shows them.
LAB_BINDINGS = APP_BINDINGS[:4] + FIX_BINDINGS + APP_BINDINGS[4:]
LAB_ACTIONS = {b.action.split("(")[0] for b in LAB_BINDINGS} - {"quit"}
_clashes = {b.key for b in APP_BINDINGS} & {b.key for b in FIX_BINDINGS}
if _clashes:  # a fix key that shadows a lab key would silently do the wrong thing
    raise RuntimeError(f"fix keys clash with lab keys: {sorted(_clashes)}")


def palette_commands(app) -> Iterator[SystemCommand]:
    """Every lab action and every fix, for the command palette (ctrl+p)."""
    yield SystemCommand("Start run", "Train the selected scenario (space)", app.action_start)
    yield SystemCommand("Restart run", "Stop and start again with the current fixes (r)", app.action_restart)
    yield SystemCommand("Stop run", "Stop training; the event files are closed (x)", app.action_stop)
    yield SystemCommand("Reveal diagnosis", "Show what is wrong with the selected scenario (?)", app.action_reveal)
    yield SystemCommand("Start TensorBoard", "TensorBoard on 127.0.0.1 for the log folder (t)", app.action_board)
    yield SystemCommand("Shuffle, batch, repeat orderings", "What the six orderings of tf.data really produce (e)",
                        app.action_orderings)
    yield SystemCommand("Experiments and pipeline speed",
                        "tanh vs ReLU, depth, initialisation, and how fast each tf.data pipeline feeds training (p)",
                        app.action_experiments)
    yield SystemCommand("Input batch and doctor", "Show or hide the input batch and the doctor's findings (v)",
                        app.action_toggle_details)
    for name, fix in FIXES.items():
        yield SystemCommand(f"Toggle fix: {fix.label} ({fix.key})", fix.reason, partial(app.action_toggle_fix, name))
