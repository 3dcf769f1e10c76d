"""ExperimentsScreen: the bonus experiments (core.runs.experiments.PRESETS) and the tf.data
pipeline-speed comparison (core.lessons.pipeline_speed), run from the lab.

Enter on an entry runs it in a thread worker; the worker never touches widgets, it posts
ExperimentLine (progress) and ExperimentDone (the summary) messages. Closing the screen
or quitting the lab sets the stop Event the run checks at every step.
"""

from __future__ import annotations

import math
import os
import sys
import threading

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from tui.messages import ExperimentDone, ExperimentLine
from tui.run_outcome import number

PIPELINE = "pipeline-speed"
JOBS = 2  # parallel training processes for a preset's variants
# The lab's pipeline-speed run: small, so it ends in well under a minute (bench/pipeline_speed.py times the full set).
PIPELINE_ROUNDS, PIPELINE_STEPS, PIPELINE_WARMUP, PIPELINE_EXAMPLES = 1, 100, 5, 10_000
PIPELINE_TITLE = "Pipeline speed: eight tf.data input pipelines feeding the same SGD step"
PIPELINE_SHOWS = (
    f"Each pipeline is checked (every example once per epoch, images paired with labels, a new order each epoch), "
    f"then timed. Here a quick version: {PIPELINE_ROUNDS} round x {PIPELINE_STEPS} steps on {PIPELINE_EXAMPLES} "
    f"random images, well under a minute; bench/pipeline_speed.py runs the full 5 x 300 steps on 60000."
)
TEXT_MARGIN = 6  # borders, padding and a scrollbar


def entries() -> list[tuple[str, str, str]]:
    """(id, title, shows) of every entry, the presets first."""
    from core.runs.experiments import PRESETS  # no TensorFlow: presets are data

    return [(name, p.title, p.shows) for name, p in PRESETS.items()] + [(PIPELINE, PIPELINE_TITLE, PIPELINE_SHOWS)]


_tracker_lock = threading.Lock()


def start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker with its stderr on /dev/null, before the first spawn.

    The tracker is started lazily by the first spawned process and passes sys.stderr.fileno()
    to it; while Textual runs, sys.stderr is its print capture, whose fileno() is -1, and the
    spawn fails with "bad value(s) in fds_to_keep". Its warnings do not belong on the screen anyway.
    """
    from multiprocessing import resource_tracker

    with _tracker_lock, open(os.devnull, "w") as devnull:
        saved, sys.stderr = sys.stderr, devnull
        try:
            resource_tracker.ensure_running()
        finally:
            sys.stderr = saved


class ExperimentsScreen(Screen):
    BINDINGS = [Binding("escape,p", "close", "Back to the lab", id="experiments.back")]
    DEFAULT_CSS = """
    ExperimentsScreen #experiments-list { height: auto; max-height: 50%; border: round $panel; border-title-color: $text; }
    ExperimentsScreen #experiments-scroll { border: round $panel; border-title-color: $text; padding: 0 1; }
    ExperimentsScreen #experiments-text { width: 1fr; }
    """

    def __init__(self) -> None:
        super().__init__(id="experiments")
        self.stop = threading.Event()
        self.running = ""  # the entry being run, "" when idle
        self.lines: list[str] = []
        self.summary = ""
        self.error = ""

    def compose(self) -> ComposeResult:
        options = [
            Option(Content.assemble((title, "bold"), "\n", Content(shows)), id=name)
            for name, title, shows in entries()
        ]
        yield OptionList(*options, id="experiments-list")
        with VerticalScroll(id="experiments-scroll"):
            yield Static(id="experiments-text")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#experiments-list").border_title = "experiments: enter runs one"
        self.query_one("#experiments-scroll").border_title = "output"
        self.query_one("#experiments-text", Static).update(
            f"Pick an experiment and press enter. Presets train their variants in {JOBS} processes into "
            f"{self.app.state.log_root}/experiments/ (open TensorBoard there to overlay them)."
        )
        self.query_one(OptionList).focus()

    def action_close(self) -> None:
        self.stop.set()
        self.app.pop_screen()

    def on_unmount(self) -> None:
        self.stop.set()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if self.running:
            self.notify(f"{self.running} is still running; close this screen (escape) to stop it.", timeout=4)
            return
        self.running, self.summary, self.error = event.option.id, "", ""
        self.lines = [f"running {self.running}…"]
        self.show_text()
        self.app.register_stop(self.stop)
        self.run_entry(self.running, self.app.state.steps)

    @work(thread=True, group="experiment", exit_on_error=False)
    def run_entry(self, name: str, steps: int | None) -> None:
        try:
            if name == PIPELINE:
                summary = self._pipeline(steps)
            else:
                summary = self._preset(name, steps)
        except Exception as error:
            self.post_message(ExperimentDone(name, error=f"{type(error).__name__}: {error}"))
            return
        self.post_message(ExperimentDone(name, summary))

    def _preset(self, name: str, steps: int | None) -> str:
        """Runs on the worker thread: train the preset's variants, return summarize()'s text."""
        from core.runs.experiments import PRESETS, run_preset, summarize

        preset = PRESETS[name]
        data = self.app.data
        total = steps or max(config.steps for _, config in preset.variants)
        jobs = min(JOBS, len(preset.variants))
        post = self.post_message
        post(ExperimentLine(f"{preset.name}: {len(preset.variants)} variants x {total} steps on {jobs} processes"))

        def on_progress(label, record) -> None:
            loss = number(record.scalars.get("loss", math.nan), ".4g", nan="NaN")
            post(ExperimentLine(f"  {label:<10} step {record.step + 1:>6}/{total}  loss {loss}"))

        def on_variant(outcome) -> None:
            status = outcome.error or f"test accuracy {number(outcome.test_accuracy, '.4f')}, {outcome.steps_done} steps"
            if outcome.stopped and not outcome.error:
                status = f"stopped after {outcome.steps_done} steps"
            post(ExperimentLine(f"  {outcome.label:<10} done: {status} ({outcome.seconds:.0f} s)"))

        if jobs > 1:
            start_resource_tracker()
        result = run_preset(
            preset, steps=steps, jobs=jobs, log_root=self.app.state.log_root,
            data_path=None if data.given is not None else data.path, data=data.given,
            on_variant=on_variant, on_progress=on_progress, progress_every=max(1, total // 5), stop=self.stop,
        )
        histories = result.histories()
        text = summarize(preset, histories, plots=True) if histories else f"{preset.title}: no variant produced a history\n"
        failed = [f"variant {o.label} failed: {o.error}" for o in result.outcomes if o.error]
        return text + "\n".join(failed + [f"TensorBoard: tblab board --logdir {result.folder}  (one run per variant)"])

    def _pipeline(self, steps: int | None) -> str:
        """Runs on the worker thread: time the pipelines, return a table and a bar chart."""
        self.post_message(ExperimentLine("loading TensorFlow…"))
        from core.lessons.pipeline_speed import measure, render_text

        from tui.machine_load import cpu_mark, cpu_share_of_others, load_note

        before = cpu_mark()
        result = measure(
            rounds=PIPELINE_ROUNDS, steps=min(PIPELINE_STEPS, steps or PIPELINE_STEPS), warmup=PIPELINE_WARMUP,
            examples=PIPELINE_EXAMPLES, on_progress=lambda text: self.post_message(ExperimentLine(text)),
            stop=self.stop,
        )
        note = load_note(cpu_share_of_others(before, cpu_mark()))
        width = max(60, self.size.width - TEXT_MARGIN)
        return render_text(result, width=width) + (f"\n{note}" if note else "")

    def on_experiment_line(self, message: ExperimentLine) -> None:
        self.lines.append(message.text)
        self.show_text()

    def on_experiment_done(self, message: ExperimentDone) -> None:
        self.running = ""
        self.summary, self.error = message.summary, message.error
        self.show_text()

    def show_text(self) -> None:
        parts = ["\n".join(self.lines)]
        if self.summary:
            parts.append(self.summary)
        text = Content("\n\n".join(parts))
        if self.error:
            text = text + Content.from_markup("\n\n[$text-error]It failed: $error[/]", error=self.error)
        self.query_one("#experiments-text", Static).update(text)
        self.query_one("#experiments-scroll", VerticalScroll).scroll_end(animate=False)
