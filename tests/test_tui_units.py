"""The lab's plain-Python parts: bounded series, run traces, lab state, record batching, drawing helpers."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from core.schema.config import RunConfig
from core.schema.events import Ended, Eval, Step, consume
from core.schema.history import Snapshot, StepRecord
from tests.tui_canned import VANISHING, canned_results, records
from tui.bindings import APP_BINDINGS, FIX_BINDINGS
from tui.lab_runs import LabRuns, Launched, Stopped
from tui.lab_state import LabState
from tui.messages import RunEnded, RunPhase, StepBatch
from tui.run_trace import RunState, RunTrace
from tui.run_worker import DataCache, RecordBatcher, RunSpec, run_training
from tui.series_buffer import DecimatedSeries
from tui.widgets.findings_panel import findings_content, layer_span
from tui.widgets.input_view import LEVELS, grey_levels, shrink
from tui.widgets.status_line import progress_bar
from tui.widgets.trace_plot import log_ticks


# --- DecimatedSeries -----------------------------------------------------------------------
def test_series_stays_bounded_and_keeps_the_mean():
    series = DecimatedSeries(capacity=64)
    for step in range(100_000):
        series.append(step, float(step))
    assert len(series) <= 64
    steps, values = series.points(1000)
    assert steps[0] == 0 and steps[-1] > 90_000
    # each bucket is the mean of consecutive steps, so value - step is half a bucket, never more
    assert all(0 <= v - s < series.bucket_width for s, v in zip(steps, values))


def test_series_thins_to_the_plot_width_and_drops_nonfinite_buckets():
    series = DecimatedSeries(capacity=256)
    for step in range(200):
        series.append(step, math.nan if 50 <= step < 150 else 1.0)
    steps, values = series.points(20)
    assert len(steps) <= 20
    assert values == [1.0] * len(values)
    assert not any(50 <= s < 140 for s in steps)  # all-NaN groups are not drawn
    assert series.count == 200 and series.last_value == 1.0 and series.last_step == 199


def test_series_capacity_must_be_even():
    with pytest.raises(ValueError):
        DecimatedSeries(capacity=3)


# --- RunTrace ------------------------------------------------------------------------------
def trace(**kw) -> RunTrace:
    return RunTrace(run_id=1, scenario_key="fail2.py", config=RunConfig(hidden_layers=8, steps=400), **kw)


def test_trace_keeps_only_plotted_tags_and_orders_layers():
    t = trace()
    t.add_records(records(30, 8, healthy=False), sent_at=1.0)
    assert set(t.train) == {"loss", "accuracy"} | {f"grad_norm/{n}/kernel" for n in [f"dense_{i}" for i in range(1, 9)] + ["output"]} | {f"saturated_fraction/dense_{i}" for i in range(1, 9)}
    layers = [name for name, _ in t.layer_series("grad_norm", "kernel")]
    assert layers == [f"dense_{i}" for i in range(1, 9)] + ["output"]
    assert t.state == "running" and t.last_step == 29


def test_a_watched_scripts_layers_keep_its_order_and_its_output_is_drawn_as_the_output():
    from tui.widgets.layer_colors import OUTPUT_COLOR, layer_colors

    t = trace(layer_order=("dense", "dense_1", "dense_2"))  # Keras' names: by name, dense would come last
    norms = {f"grad_norm/{n}/kernel": 1.0 for n in ("dense_2", "dense_1", "dense")}
    t.add_records([StepRecord(0, {"loss": 2.3, **norms})], sent_at=1.0)
    layers = [name for name, _ in t.layer_series("grad_norm", "kernel")]
    assert layers == ["dense", "dense_1", "dense_2"] and t.output_layer == "dense_2" and trace().output_layer == "output"
    colors = layer_colors(layers, t.output_layer)
    assert colors["dense_2"] == OUTPUT_COLOR and colors["dense"] != OUTPUT_COLOR


def test_trace_finds_the_first_nonfinite_step_and_measures_speed():
    t = trace()
    t.add_records([StepRecord(0, {"loss": 2.3, "nonfinite/count": 0.0})], sent_at=10.0)
    t.add_records([StepRecord(s, {"loss": 2.3, "nonfinite/count": 0.0}) for s in range(1, 101)], sent_at=11.0)
    t.add_records([StepRecord(101, {"loss": math.nan, "nonfinite/count": 3.0})], sent_at=11.01)
    assert t.first_nonfinite_step == 101
    assert 95 < t.steps_per_second < 105


def test_trace_version_moves_on_every_change():
    t = trace()
    before = t.version
    t.add_eval(0, {"loss": 2.3, "accuracy": 0.1})
    t.set_images(0, np.zeros((2, 28, 28), np.float32))
    t.add_findings([VANISHING])
    assert t.version == before + 3
    with pytest.raises(ValueError):
        t.set_state("exploded")


# --- LabState --------------------------------------------------------------------------------
def test_state_applies_toggles_and_rotates_current_to_previous(tmp_path):
    state = LabState(canned_results(), tmp_path, steps=50)
    slot = state.selected
    assert state.toggle("activation") is True
    config = slot.effective_config()
    assert config.activation == "relu" and config.steps == 50
    _, first = state.new_run(slot)
    first.set_state("stopped")  # what the app does to a run replaced before it started
    _, second = state.new_run(slot)
    assert slot.current is second and slot.previous is None  # the first drew nothing: not worth keeping
    second.add_records(records(60, 8, healthy=True))
    _, third = state.new_run(slot)
    assert slot.previous is None  # the same config as the current run: no comparison
    assert first.run_id not in state.runs  # dropped: it can never be "before"
    state.toggle("init")
    _, fourth = state.new_run(slot)
    assert slot.previous is second and slot.current is fourth  # third drew nothing: second stays "before"
    third.add_records(records(10, 8, healthy=True))
    third.set_state("stopped")
    _, fifth = state.new_run(slot)
    assert slot.previous is second  # stopped after 10 steps: aborted, not a comparison
    assert third.run_id not in state.runs
    assert fifth.fixes == ("activation", "init") and "activation" in fifth.logdir


def test_a_short_run_that_reached_its_end_is_a_before(tmp_path):
    state = LabState(canned_results(), tmp_path, steps=20)
    slot = state.selected
    _, first = state.new_run(slot)
    first.add_records(records(20, 8, healthy=False))
    first.set_state("finished")
    state.toggle("activation")
    state.new_run(slot)
    assert slot.previous is first


def test_state_refuses_to_run_a_broken_scenario(tmp_path):
    state = LabState(canned_results(), tmp_path)
    state.select(2)
    assert state.selected.broken and state.toggle("activation") is False
    with pytest.raises(ValueError):
        state.new_run(state.selected)


def test_fix_keys_do_not_clash_with_lab_keys():
    lab_keys = {b.key for b in APP_BINDINGS}
    fix_keys = [b.key for b in FIX_BINDINGS]
    assert len(set(fix_keys)) == len(fix_keys) and not lab_keys & set(fix_keys)


# --- LabRuns: one training thread at a time ------------------------------------------------------
class Threads:
    """Spawns nothing: keeps each body so the test decides when a training thread runs and returns."""

    def __init__(self):
        self.bodies, self.trained = [], []

    def spawn(self, body, name):
        self.bodies.append((name, body))

    def run(self, index: int) -> None:
        """Run a kept body on a thread of its own, as the app would (it lowers its thread's priority)."""
        thread = threading.Thread(target=self.bodies[index][1])
        thread.start()
        thread.join(10)

    def train(self, spec, stop):
        self.trained.append((spec.run_id, stop.is_set()))


def spec(run_id: int, tmp_path) -> RunSpec:
    return RunSpec(run_id, "fail2", RunConfig(steps=5), (), tmp_path / str(run_id))


def test_lab_runs_start_one_thread_and_queue_the_next_launch(tmp_path):
    threads = Threads()
    runs = LabRuns(threads.spawn, threads.train)
    assert runs.launch(spec(1, tmp_path)) == Launched() and runs.active_id == 1 and runs.busy
    assert runs.launch(spec(2, tmp_path)) == Launched(waits_for=1)  # run 1 asked to stop, 2 waits
    assert runs.launch(spec(3, tmp_path)) == Launched(replaced=2, waits_for=1)  # 2 never starts
    assert [name for name, _ in threads.bodies] == ["run 1"]
    threads.run(0)  # run 1's thread returns
    assert threads.trained == [(1, True)] and runs.wait(0)
    assert runs.ended(1).run_id == 3 and runs.active_id == 3
    assert runs.ended(1) is None  # a late message from a replaced run changes nothing
    assert not runs.wait(0)  # run 3's thread has not returned


def test_lab_runs_stop_and_close(tmp_path):
    threads = Threads()
    runs = LabRuns(threads.spawn, threads.train)
    assert runs.stop() == Stopped() and not runs.busy
    runs.launch(spec(1, tmp_path))
    runs.launch(spec(2, tmp_path))
    assert runs.stop() == Stopped(dropped=2, stopping=1)
    runs.launch(spec(3, tmp_path))
    runs.close()
    assert runs.closed and runs.ended(1) is None and runs.active_id is None  # 3 never starts after close
    assert [name for name, _ in threads.bodies] == ["run 1"]
    with pytest.raises(RuntimeError):
        runs.launch(spec(4, tmp_path))


def test_run_states_are_typed_and_messages_check_them():
    assert RunState("loading").waiting and RunState.RUNNING.active and not RunState.FAILED.active
    assert RunEnded(1, "failed").state is RunState.FAILED
    with pytest.raises(ValueError):
        RunEnded(1, "running")  # a run cannot end while active
    with pytest.raises(ValueError):
        RunPhase(1, "exploded")


# --- the worker's side -------------------------------------------------------------------------
def test_batcher_posts_batches_not_steps():
    posted = []
    batcher = RecordBatcher(7, posted.append, interval=3600)
    events = [Step(record) for record in records(500, 2, healthy=True)]
    events += [Eval(100, {"loss": 1.0, "accuracy": 0.5}), Snapshot(100, {}, 0.0, np.ones((2, 28, 28))), Ended("finished", 500)]
    consume(events, [batcher])
    assert len(posted) == 2  # the first record at once (the learner sees the start), then the rest together
    assert [len(m.records) for m in posted] == [1, 499]
    last = posted[-1]
    assert last.run_id == 7 and last.evals == [(100, {"loss": 1.0, "accuracy": 0.5})] and last.images[0] == 100


def test_a_failing_run_ends_with_one_failed_message(tmp_path):
    class NoData(DataCache):
        def get(self):
            raise OSError("disk on fire")

    posted = []
    spec = RunSpec(1, "fail2", RunConfig(steps=5), (), tmp_path / "run")
    run_training(spec, posted.append, threading.Event(), NoData())
    assert isinstance(posted[0], RunPhase)
    assert isinstance(posted[-1], RunEnded) and posted[-1].state == "failed"
    assert posted[-1].detail == "OSError: disk on fire"
    assert not any(isinstance(m, StepBatch) for m in posted)


# --- drawing helpers -----------------------------------------------------------------------------
def test_log_ticks_span_whole_decades():
    ticks, labels = log_ticks([3e-8, 0.5], rows=20)
    assert ticks[0] <= 3e-8 and ticks[-1] >= 0.5 and labels[-1] == "1"
    ticks, labels = log_ticks([0.6, 0.9], rows=6)
    assert len(ticks) >= 2  # a narrow range still gets two labelled decades
    assert log_ticks([0.0, -1.0], rows=10) == ([], [])


def test_grey_levels_use_the_batch_range_and_survive_nan():
    noisy = np.random.default_rng(0).normal(0, 4, (2, 28, 28)).astype(np.float32)
    noisy[0, 0, 0] = np.nan
    levels = grey_levels(noisy)
    assert levels.min() == 0 and levels.max() == LEVELS - 1
    assert shrink(noisy[:, :28, :28], 2).shape == (2, 14, 14)


def test_small_text_helpers():
    assert progress_bar(5, 10, cells=10) == "█████░░░░░"
    assert progress_bar(0, 0, cells=4) == "░░░░"
    assert layer_span(["dense_1", "dense_2"]) == "dense_1, dense_2"
    assert layer_span([f"dense_{i}" for i in range(1, 9)]) == "dense_1…dense_8 (8)"
    t = trace()
    t.add_findings([VANISHING])
    text = findings_content(t).plain
    assert "Vanishing gradients" in text and "step 50" in text and "a ReLU activation" in text


def test_the_lab_command_imports_neither_tensorflow_nor_the_app():
    """`tblab` must draw its first frame before TensorFlow loads: nothing on the way there imports it."""
    code = (
        "import sys; import tui.cli as c; c.build_parser(); import tui.app; "
        "print('tensorflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parent.parent,
                         env={**os.environ}, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("args, message", [
    (["lab", "--data", "/no/such/mnist.npz"], "tblab: --data /no/such/mnist.npz: no such file or folder"),
    (["lab", "--steps", "0"], "tblab: --steps must be >= 1"),
    (["lab"], "tblab: the lab needs a terminal; for a headless run use `tblab run SCENARIO`"),
    ([], "tblab: the lab needs a terminal; for a headless run use `tblab run SCENARIO`"),
])
def test_the_lab_command_refuses_bad_input_in_one_line(args, message, tmp_path):
    out = subprocess.run([sys.executable, "-m", "tui.cli", *args], capture_output=True, text=True,
                         cwd=Path(__file__).parent.parent, stdin=subprocess.DEVNULL, timeout=60)
    assert out.returncode == 2 and out.stderr.strip() == message and out.stdout == ""


def test_the_list_keeps_run_state_and_outcome_apart():
    from tui.run_outcome import outcome

    trace = RunTrace(run_id=1, scenario_key="k", config=RunConfig(steps=100))
    assert outcome(trace).word == "starting"
    trace.add_records(records(100, 2, healthy=True))
    assert (outcome(trace).mark, outcome(trace).word) == ("▶", "running")
    trace.set_state("finished")
    trace.test_accuracy = 0.95
    assert outcome(trace).word == "no finding"  # no baseline measured: nothing to call it repaired against
    assert outcome(trace, baseline_accuracy=0.97) == outcome(trace, 0.97) and outcome(trace, 0.97).word == "repaired"
    assert outcome(trace, baseline_accuracy=0.99).word == "no finding"  # 4 points short
    trace.add_findings([VANISHING])
    assert outcome(trace, 0.95).word == "failed: Vanishing gradients" and outcome(trace, 0.95).mark == "✗"
    stopped = RunTrace(run_id=2, scenario_key="k", config=RunConfig(steps=100))
    stopped.add_records(records(30, 2, healthy=True))
    stopped.set_state("stopped")
    assert outcome(stopped).word == "stopped at 30"


def test_the_baseline_accuracy_comes_from_a_finished_as_is_baseline_run(tmp_path):
    from core.schema.scenario import BUILTIN_DIR, load_file

    state = LabState([load_file(BUILTIN_DIR / "baseline.py"), *canned_results()], tmp_path)
    assert state.slots[0].name == "baseline" and state.baseline_accuracy() is None
    _, trace = state.new_run(state.slots[0])
    trace.add_records(records(60, 2, healthy=True))
    trace.test_accuracy = 0.93
    assert state.baseline_accuracy() is None  # still going
    trace.set_state("finished")
    assert state.baseline_accuracy() == pytest.approx(0.93)


def test_the_doctor_suggests_only_fixes_that_can_apply_to_the_run():
    from dataclasses import replace

    finding = replace(VANISHING, fixes=("activation", "depth"))
    everything = str(findings_content(_trace_with(finding)))
    assert "try: a ReLU activation · d 2 hidden layers" in everything and "code change" not in everything
    script = str(findings_content(_trace_with(finding), applies=lambda name: name != "depth"))
    assert "try: a ReLU activation" in script and "d 2 hidden layers" not in script.split("would need")[0]
    assert "would need a code change: d 2 hidden layers" in script


def _trace_with(finding) -> RunTrace:
    trace = RunTrace(run_id=1, scenario_key="k", config=RunConfig(steps=10))
    trace.add_findings([finding])
    return trace


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread priority is Linux's")
def test_training_runs_on_a_lower_priority_thread_than_the_ui(tmp_path):
    from tui.lab_runs import TRAINING_NICENESS

    seen = {}
    threads = []

    def spawn(body, name):
        thread = threading.Thread(target=body, name=name)
        threads.append(thread)
        thread.start()

    def train(spec, stop):
        seen["niceness"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    runs = LabRuns(spawn, train)
    runs.launch(RunSpec(1, "s", RunConfig(steps=1), (), tmp_path))
    threads[0].join(5)
    assert seen["niceness"] >= TRAINING_NICENESS
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) < TRAINING_NICENESS  # this thread: untouched


def test_the_cpu_share_of_other_programs_and_the_note_beside_a_timing():
    from tui.machine_load import CpuMark, cpu_mark, cpu_share_of_others, load_note

    cores = os.cpu_count() or 1
    start = CpuMark(wall=10.0, busy=100.0, own=5.0)
    # 2 s on every core: this process used 1 s of CPU, all programs together 1 + 0.5 * cores * 2
    end = CpuMark(wall=12.0, busy=100.0 + 1.0 + cores, own=6.0)
    assert cpu_share_of_others(start, end) == pytest.approx(0.5)
    assert "machine was busy" in load_note(0.5) and "50%" in load_note(0.5)
    assert "busy" not in load_note(0.05) and "5%" in load_note(0.05)
    assert cpu_share_of_others(None, end) is None and load_note(None) == ""
    if sys.platform.startswith("linux"):
        mark = cpu_mark()
        assert mark is not None and mark.busy > 0
