"""The lab's keys: one binding per action and one per fix (shown in the footer). The same
actions are in the command palette (tui/palette.py)."""

from __future__ import annotations

from textual.binding import Binding

from core.schema.fixes import FIXES

APP_BINDINGS = [
    Binding("space", "start", "Start", id="run.start"),
    Binding("r", "restart", "Rerun", tooltip="run the selected config again, now", id="run.restart"),
    Binding("x", "stop", "Stop", id="run.stop"),
    Binding("question_mark", "reveal", "Diagnosis", key_display="?", id="scenario.reveal"),
    Binding("t", "board", "Board", tooltip="TensorBoard on 127.0.0.1", id="board.start"),
    Binding("v", "toggle_details", "Details", tooltip="show or hide the input batch and the doctor", id="view.details"),
    Binding("e", "orderings", "Orderings", tooltip="the six shuffle/batch/repeat orderings, as tf.data ran them",
            id="view.orderings"),
    Binding("p", "experiments", "Experiments", tooltip="the bonus experiments and the tf.data pipeline speeds",
            id="view.experiments"),
    Binding("h", "handin", "Hand in", show=False, id="run.handin",
            tooltip="add this run and the one before it to the hand-in (tblab report --from-lab)"),
    Binding("q", "quit", "Quit", id="app.quit"),
]
# A fix key toggles the fix and, once the scenario has run, runs it again at once with it.
FIX_GROUP = Binding.Group("fix+run", compact=True)
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

