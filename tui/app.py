"""The lab: pick a failing script, toggle fixes with one key, watch it train live, open TensorBoard.

`make_app()` builds the app for the `tblab lab` command and for the tests alike.
Training runs in one thread worker (tui/run_worker.py) at a time, launched, stopped
and closed by LabRuns (tui/lab_runs.py); the worker reports by messages, which this
module turns into RunTraces (tui/lab_state.py) handed down to the widgets, which
redraw on their own timers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path

import time

from textual import work
from textual.app import App, ComposeResult
from textual.screen import Screen
from textual.widgets import OptionList

from core.schema.fixes import FIXES
from core.schema.scenario import BUILTIN_DIR, LoadResult, discover, load_file
from tui.bindings import LAB_BINDINGS
from tui.board_keeper import BoardKeeper
from tui.lab_actions import action_possible
from tui.lab_runs import LabRuns, yielding
from tui.lab_state import LabState, ScenarioSlot, saved_scripts
from tui.messages import BoardFailed, BoardStarted, RunEnded, RunPhase, ScriptOutput, StepBatch, TensorFlowReady
from tui.palette import LabCommands
from tui.run_trace import RunState
from tui.run_worker import DataCache, RunSpec, run_training
from tui.tf_preload import freeze_loaded_heap, preload_tensorflow
from tui.views import Views

STOP_JOIN_SECONDS = 30.0
SAVE_POLL_SECONDS = 0.5  # how often a watched script's file is checked for a save


class LabApp(App):
    CSS_PATH = "lab.tcss"
    TITLE = "tblab"
    BINDINGS = LAB_BINDINGS
    COMMANDS = App.COMMANDS | {LabCommands}
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]

    def __init__(
        self, results: list[LoadResult], *, log_root: str | Path = "logs", data_path: str | None = None,
        mnist=None, steps: int | None = None, preload_tensorflow: bool = True,
    ) -> None:
        super().__init__()
        self.state = LabState(results, Path(log_root), steps=steps)
        self.data = DataCache(data_path, mnist)
        self.preload_tensorflow = preload_tensorflow
        self.tf_state = "not loaded"
        self.boards = BoardKeeper(Path(log_root))
        self._quitting = threading.Event()
        self.runs = LabRuns(self._spawn_training, self._train)
        self._stops: list[threading.Event] = []  # experiment runs (tui/experiments_screen.py)
        self.views = Views()

    @property
    def board(self):
        """The running TensorBoard (core.tensorboard.board.Board), or None."""
        return self.boards.board

    @property
    def board_url(self) -> str:
        return self.boards.url

    # --- layout ------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield from self.views.compose()

    def on_mount(self) -> None:
        self.views.scenarios.border_title = "scenarios"
        self.views.fixes.border_title = "fixes"
        self.show_slots()
        self.views.scenarios.focus()
        self.refresh_views()
        if any(slot.script is not None for slot in self.state.slots):
            self.set_interval(SAVE_POLL_SECONDS, self.rerun_saved_scripts)
        if self.preload_tensorflow:
            self.tf_state = "loading…"
            self.call_after_refresh(self.preload_tf)  # after the first frame is on screen

    # --- what the widgets show -----------------------------------------------------
    def refresh_views(self) -> None:
        slot = self.state.selected
        self.views.info.show_slot(slot)
        self.views.fixes.show_slot(slot)
        current, previous = (slot.current, slot.previous) if slot else (None, None)
        floor = bool(slot and slot.scenario and slot.scenario.config.softmax_before_loss)
        for plot in self.views.plots:
            plot.show(current, previous, softmax_floor=floor)
        self.views.inputs.show(current)
        self.views.findings.show(current, previous, slot.applies if slot else None)
        self.refresh_status()

    def refresh_status(self) -> None:
        slot = self.state.selected
        self.views.results.show(slot.current if slot else None, slot.previous if slot else None)
        tf_state = "" if self.tf_state == "ready" else self.tf_state
        self.views.status.show(self.state.status_trace(self.runs.active_id), self.board_url, tf_state)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self.sync_selection()

    def sync_selection(self) -> ScenarioSlot | None:
        """The highlighted scenario, read from the list itself: a key typed right after a cursor
        move can arrive before the list's OptionHighlighted message (seen in tmux at start-up)."""
        highlighted = self.views.scenarios.highlighted if self.views.scenarios.is_mounted else None
        if highlighted is not None and highlighted != self.state.selected_index:
            self.state.select(highlighted)
            self.refresh_views()
            self.refresh_bindings()
        return self.state.selected

    # --- actions -------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.action_possible(action, parameters, self.screen if self.screen_stack else None)

    def action_possible(self, action: str, parameters: tuple[object, ...], screen: Screen | None) -> bool | None:
        """The footer and the command palette (tui/palette.py) both ask here (tui/lab_actions.py)."""
        return action_possible(
            action, self.sync_selection(), screen_id=screen.id if screen is not None else None,
            busy=self.runs.busy, board_running=self.board is not None,
        )

    def action_start(self) -> None:
        slot = self.sync_selection()
        if slot is None or slot.broken:
            return
        self.launch(slot)

    def action_restart(self) -> None:
        """`r` always runs the selected config again: restarts a run going, reruns one that ended."""
        slot = self.sync_selection()
        if slot is None or slot.broken:
            return
        verb = "Restarted" if slot.current is not None and slot.current.active else "Running"
        self.launch(slot)
        self.notify(f"{verb} {slot.label} with {slot.fix_text()}.")

    def action_stop(self) -> None:
        stopped = self.runs.stop()
        if stopped.dropped is not None:
            self.state.end_trace(stopped.dropped, RunState.STOPPED, "stopped before it started")
        if stopped.stopping is not None:
            self.state.mark_stopping(stopped.stopping)
        self.refresh_views()
        self.refresh_bindings()

    def action_reveal(self) -> None:
        slot = self.sync_selection()
        if slot is not None and not slot.broken:
            slot.revealed = True
            self.views.info.show_slot(slot)
            self.refresh_bindings()

    def action_toggle_fix(self, name: str) -> None:
        slot = self.sync_selection()
        if slot is None or slot.broken:
            return
        applies, why_not = slot.applicable(name)
        if not applies:
            self.notify(f"{FIXES[name].label} cannot apply to {slot.name}: {why_not}.", severity="warning", timeout=5)
            return
        on = self.state.toggle(name)
        fix = FIXES[name]
        self.views.fixes.show_slot(slot)
        self.views.info.show_slot(slot)
        if slot.current is None:  # nothing ran yet: the learner is still choosing
            self.notify(f"{fix.label} {'on' if on else 'off'}: {fix.reason}. Space runs it.", timeout=4)
            return
        verb = "restarted" if slot.current.active else "running"  # a run going or one that ended: at once
        self.launch(slot)
        self.notify(f"{fix.label} {'on' if on else 'off'}: {verb} {slot.label} with {slot.fix_text()}.")

    def action_board(self) -> None:
        if self.board is None:
            self.boards.url = "starting…"
            self.refresh_status()
            self.start_board()

    def action_toggle_details(self) -> None:
        """Swap the input batch and doctor in or out (on a short terminal they replace the plots)."""
        self.views.work.toggle_class("-swapped")
        self.refresh_views()

    def action_orderings(self) -> None:
        from tui.orderings_screen import OrderingsScreen

        self.push_screen(OrderingsScreen())

    def action_experiments(self) -> None:
        from tui.experiments_screen import ExperimentsScreen

        self.push_screen(ExperimentsScreen())

    def action_handin(self) -> None:
        """Key h: the selected run and the one before it, a before/after pair for `tblab report --from-lab`."""
        from core.runs.handin.labfile import HandinFileError, add_lab_pair

        slot = self.sync_selection()
        try:
            path = add_lab_pair(self.state.log_root, slot, slot and slot.previous, slot and slot.current)
        except HandinFileError as error:
            self.notify(str(error), severity="warning", timeout=6)
            return
        self.notify(f"{slot.name} added to the hand-in ({path.name}): tblab report --from-lab --out DIR", timeout=6)

    def register_stop(self, stop: threading.Event) -> None:
        """A background job's stop Event (an experiment run), set when the lab quits."""
        self._stops.append(stop)
        if self._quitting.is_set():
            stop.set()

    async def action_quit(self) -> None:
        self.shutdown_background()
        self.exit()

    # --- runs ------------------------------------------------------------------------
    def launch(self, slot: ScenarioSlot) -> None:
        """Start a run of `slot`; a run already going is stopped first, and this one waits for it."""
        if self.runs.closed:
            return
        spec, trace = self.state.new_run(slot)
        launched = self.runs.launch(spec)
        if launched.replaced is not None:  # superseded before it started
            self.state.end_trace(launched.replaced, RunState.STOPPED, "replaced by a newer run")
        if launched.waits_for is not None:
            self.state.mark_stopping(launched.waits_for)
            trace.detail = f"waiting for run {launched.waits_for} to stop"
        self.show_slots()
        self.refresh_views()
        self.refresh_bindings()

    def show_slots(self) -> None:
        self.views.scenarios.show_slots(self.state.slots, self.state.baseline_accuracy())

    def _spawn_training(self, body, name: str) -> None:
        self.run_worker(body, name=name, group="training", thread=True, exit_on_error=False)

    def _train(self, spec: RunSpec, stop: threading.Event) -> None:
        """The worker's body: a scenario trains in this process, a plain script is watched."""
        if spec.script is not None:
            from tui.watch_worker import run_script

            run_script(spec, yielding(self.post_message), stop)
        else:
            run_training(spec, yielding(self.post_message), stop, self.data)

    def on_run_phase(self, message: RunPhase) -> None:
        trace = self.state.runs.get(message.run_id)
        if trace is None:
            return
        trace.logdir = message.logdir or trace.logdir
        trace.data_source = message.data_source or trace.data_source
        trace.layer_order = message.layers or trace.layer_order  # a watched script's, in its names
        if trace.state.waiting:
            trace.set_state(message.state, message.detail)
        self.refresh_status()

    def on_step_batch(self, message: StepBatch) -> None:
        trace = self.state.runs.get(message.run_id)
        if trace is None:
            return
        was_waiting = trace.state.waiting
        trace.add_records(message.records, message.sent_at or None)
        if was_waiting and message.records:
            self.tf_state = "ready"  # the run took a step: TensorFlow is loaded, whoever loaded it
            freeze_loaded_heap()
        for step, scalars in message.evals:
            trace.add_eval(step, scalars)
        if message.images is not None:
            trace.set_images(*message.images)
        if message.findings:
            trace.add_findings(message.findings)
            self.announce_findings(trace, message.findings)
        if message.diagnosis is not None:
            trace.settle_findings(message.diagnosis)
        slot = self.state.selected
        if slot is not None and trace is slot.current:
            self.views.inputs.show(trace)
            self.views.findings.show(trace, slot.previous, slot.applies)
        if was_waiting:
            self.show_slots()
        self.refresh_status()

    def on_script_output(self, message: ScriptOutput) -> None:
        slot = next((s for s in self.state.slots if s.current is not None and s.current.run_id == message.run_id), None)
        if slot is None or slot.script is None:
            return
        if message.skipped:
            slot.script.output.append(f"… {message.skipped} lines not shown")
        slot.script.output.extend(message.lines)
        if message.error:
            slot.script.error = message.error
        if slot is self.state.selected:
            self.views.info.show_slot(slot)
            self.views.info_scroll.scroll_end(animate=False)  # the newest output in sight

    def rerun_saved_scripts(self) -> None:
        """Edit, save, watch it recover: a saved script runs again, its last run dimmed behind."""
        for slot in saved_scripts(self.state.slots):
            self.launch(slot)
            self.notify(f"{slot.script.path.name} saved: running it again.", timeout=3)

    def announce_findings(self, trace, findings: list) -> None:
        """A toast for each new finding of the shown run when the doctor panel is out of sight."""
        slot = self.state.selected
        if slot is None or trace is not slot.current or self.views.bottom.region.area:
            return
        for finding in findings:
            severity = "error" if finding.severity == "critical" else "warning"
            self.notify(f"step {finding.step}: {finding.evidence}", title=finding.title, severity=severity, timeout=6)

    def on_run_ended(self, message: RunEnded) -> None:
        trace = self.state.runs.get(message.run_id)
        if trace is not None:
            trace.set_state(message.state, message.detail)
            trace.ended_at = time.monotonic()
            trace.test_accuracy = message.test_accuracy
            if message.steps_per_second:  # training's own steady-state measure replaces the estimate
                trace.steps_per_second = message.steps_per_second
            if message.state is RunState.FAILED:
                self.notify(f"{trace.name} failed: {message.detail}", severity="error", timeout=8)
        self.runs.ended(message.run_id)
        self.show_slots()
        self.refresh_views()
        self.refresh_bindings()

    # --- background: TensorFlow import, TensorBoard ------------------------------------
    @work(thread=True, group="preload", exit_on_error=False)
    def preload_tf(self) -> None:
        self.post_message(TensorFlowReady(preload_tensorflow()))

    def on_tensor_flow_ready(self, message: TensorFlowReady) -> None:
        self.tf_state = f"failed to load: {message.error}" if message.error else "ready"
        if not message.error:
            freeze_loaded_heap()
        self.refresh_status()

    @work(thread=True, group="board", exclusive=True, exit_on_error=False)
    def start_board(self) -> None:
        message = self.boards.start()
        if message is not None:
            self.post_message(message)

    def on_board_started(self, message: BoardStarted) -> None:
        self.boards.url = message.url
        opened = "opened in your browser" if message.browser_opened else "open it in a browser"
        self.notify(f"TensorBoard on {message.url} ({opened}).", timeout=8)
        self.refresh_status()
        self.refresh_bindings()

    def on_board_failed(self, message: BoardFailed) -> None:
        self.boards.url = ""
        self.notify(f"TensorBoard did not start: {message.error}", severity="error", timeout=8)
        self.refresh_status()

    # --- quitting ------------------------------------------------------------------
    def shutdown_background(self) -> None:
        """Stop training and TensorBoard; safe to call more than once."""
        self.runs.close()
        self._quitting.set()
        for stop in self._stops:
            stop.set()
        self.boards.close()

    def wait_for_training(self, timeout: float = STOP_JOIN_SECONDS) -> bool:
        """Block until the training thread has returned (event files closed); False on timeout."""
        return self.runs.wait(timeout)

    def on_unmount(self) -> None:
        self.shutdown_background()


def make_app(
    scenario_dirs: Iterable[str | Path] = (), *, files: Iterable[str | Path] = (), include_builtin: bool = True,
    log_root: str | Path = "logs",
    data_path: str | None = None, mnist=None, steps: int | None = None, preload_tensorflow: bool = True,
) -> LabApp:
    """The lab over the given files (scripts or scenarios), the built-in fails/ and any given folders
    (a missing folder shows as a broken entry).
    `mnist` (a core.data.mnist.Mnist) skips loading data: tests and benchmarks pass a fixed set."""
    folders = ([BUILTIN_DIR] if include_builtin else []) + [Path(d) for d in scenario_dirs]
    results: list[LoadResult] = [load_file(Path(f)) for f in files]  # the learner's own files first
    for folder in folders:
        if folder.is_dir():
            results.extend(discover(folder))
        else:
            results.append(LoadResult(folder, error=f"{folder}: no such folder"))
    return LabApp(
        results, log_root=log_root, data_path=data_path, mnist=mnist, steps=steps, preload_tensorflow=preload_tensorflow,
    )
