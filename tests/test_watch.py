"""tblab watch: a user's own script, unmodified, in a child process under run-time hooks.

Short runs (tens to a few hundred steps) of the example scripts in examples/ and of the
bad-input scripts in tests/fixtures/watch/. The 2000-step fingerprint and repair runs are
in tests/test_watch_fingerprints.py (slow).
"""

from __future__ import annotations

import itertools
import math
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from core.runs.watch import Ended, Output, Step, WatchedScript, WatchError, WatchRequest, check_request
from core.runs.watch_headless import watch
from core.watch.pacing import FIRST_FULL
from core.watch.scan import CUSTOM_LOOP, KERAS_FIT, ScanError, plan_fixes, scan_source
from tests.helpers import by_position
from tests.reliability_procs import descendants, left_after

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "watch"
SOFTMAX_TWICE_FLOOR = math.log(1 + 9 / math.e)


def watched(tmp_path, script: str | Path, *fixes: str, steps: int | None = None):
    path = Path(script) if Path(script).is_absolute() else EXAMPLES / script
    return watch(WatchRequest(path, fixes, steps), tmp_path, say=lambda text: None)


def first(history, tag):
    return history.series(tag).values[0]


# --- reading a script without running it -------------------------------------------------
def test_scan_tells_a_custom_loop_from_keras_fit_and_plans_the_fixes():
    loop = scan_source((EXAMPLES / "fail4.py").read_text())
    assert loop.style == CUSTOM_LOOP and loop.adds_noise and loop.uses_dataset and not loop.uses_optimizer
    plan = plan_fixes(loop)
    assert plan["no_noise"].applies and plan["init"].applies and plan["normalize"].applies
    assert not plan["activation"].applies and "no sigmoid or tanh" in plan["activation"].how
    assert not plan["depth"].applies and not plan["logits"].applies
    keras = scan_source((EXAMPLES / "keras_fail2.py").read_text())
    assert keras.style == KERAS_FIT and keras.initializer == "glorot"
    keras_plan = plan_fixes(keras)
    assert keras_plan["activation"].applies and "optimizer" in keras_plan["lr_down"].how
    assert not keras_plan["no_noise"].applies and not keras_plan["normalize"].applies
    assert plan_fixes(scan_source((EXAMPLES / "fail5.py").read_text()))["logits"].applies
    # Random numbers drawn for the initial weights are not noise.
    assert not scan_source((EXAMPLES / "baseline.py").read_text()).adds_noise


def test_bad_requests_fail_before_anything_runs(tmp_path):
    with pytest.raises(WatchError, match="no such file"):
        check_request(WatchRequest(tmp_path / "missing.py"))
    with pytest.raises(WatchError, match=r"line 3: syntax error"):
        check_request(WatchRequest(FIXTURES / "syntax_error.py"))
    with pytest.raises(WatchError, match="fix depth cannot apply to baseline.py: the script builds its own layers"):
        check_request(WatchRequest(EXAMPLES / "baseline.py", ("depth",)))
    with pytest.raises(WatchError, match="fix activation cannot apply.*no sigmoid or tanh"):
        check_request(WatchRequest(EXAMPLES / "baseline.py", ("activation",)))
    with pytest.raises(ScanError):
        scan_source("def f(:\n", "x.py")


# --- what a watched run records ----------------------------------------------------------------
def test_watched_baseline_records_tblab_tags_and_stops_cleanly_at_steps(tmp_path):
    from core.data.mnist import load_mnist
    from core.schema.config import RunConfig
    from core.tensorboard.reader import read_run
    from core.train.loop import train

    outcome = watched(tmp_path, "baseline.py", steps=30)
    assert outcome.reason == "finished" and outcome.steps_done == 30  # the loop ended, the script went on
    assert outcome.names == {  # tags named after the script's kernels: tag name -> the script's name
        "W1/kernel": "W1", "W1/bias": "b1", "W2/kernel": "W2", "W2/bias": "b2", "W3/kernel": "W3", "W3/bias": "b3",
    }
    assert "offline sample" in outcome.data_source or "full MNIST" in outcome.data_source
    history = outcome.history
    assert history.series("loss").steps == list(range(30))
    own = train(RunConfig(steps=2, eval_every=1), data=load_mnist()).history
    assert history.layers() == ["W1", "W2", "W3"] and history.facts.output_layers == ("W3",)
    missing = by_position(own.train, own.layers(), history.layers()) - set(history.train)
    assert not missing, missing  # every tag of tblab's own runs, its layers named as the script names them
    assert abs(first(history, "loss") - math.log(10)) < 0.1
    assert first(history, "input/max") == 1.0 and first(history, "input/min") == 0.0
    assert first(history, "loss_input/probabilities") == 0.0
    # The script's own evaluation of the whole test set is the run's test accuracy.
    assert 0.3 < outcome.test_accuracy < 1.0 and history.val["accuracy"].steps[-1] == 29
    on_disk = read_run(Path(outcome.logdir))
    # The full statistics are paced (core/watch/pacing.py): every step for the first FIRST_FULL.
    assert on_disk.facts.layer_order == ("W1", "W2", "W3") and on_disk.facts.output_layers == ("W3",)
    paced = on_disk.series("grad_norm/W1/kernel").steps
    assert paced[:FIRST_FULL] == list(range(FIRST_FULL)) and set(paced) <= set(range(30))
    assert on_disk.series("nonfinite/count").steps == list(range(30))
    assert on_disk.val["accuracy"].values[-1] == pytest.approx(outcome.test_accuracy, abs=1e-6)


def test_dead_relus_are_seen_from_step_zero(tmp_path):
    outcome = watched(tmp_path, "fail3.py", steps=120)
    history = outcome.history
    for layer in ("W1", "W2"):
        assert first(history, f"dead_fraction/{layer}") == 1.0
        assert set(history.series(f"grad_norm/{layer}/kernel").values) == {0.0}
    assert outcome.primary_finding == "dead_relu"


@pytest.mark.slow  # the fingerprint tests cover it at full length
def test_exploding_deep_net_goes_nonfinite_and_init_by_patch_repairs_it(tmp_path):
    broken = watched(tmp_path, "fail1.py", steps=60)
    assert first(broken.history, "loss") > 20 and broken.first_nonfinite_step is not None
    assert broken.primary_finding in ("exploding", "nonfinite")
    fixed = watched(tmp_path, "fail1.py", "init", steps=60)
    assert fixed.first_nonfinite_step is None and first(fixed.history, "loss") < 5
    assert any("re-initialised" in notice for notice in fixed.notices)


@pytest.mark.slow  # the fingerprint tests cover it at full length
def test_double_softmax_is_caught_at_the_loss_and_the_logits_fix_lifts_the_floor(tmp_path):
    broken = watched(tmp_path, "fail5.py", steps=150)
    assert set(broken.history.series("loss_input/probabilities").values) == {1.0}
    assert min(broken.history.series("loss").values) >= SOFTMAX_TWICE_FLOOR
    fixed = watched(tmp_path, "fail5.py", "logits", steps=150)
    assert min(fixed.history.series("loss").values) < SOFTMAX_TWICE_FLOOR - 0.5


def test_patch_fixes_change_what_the_first_layer_and_the_update_see(tmp_path):
    noisy = watched(tmp_path, "fail4.py", steps=5)
    clean = watched(tmp_path, "fail4.py", "no_noise", "normalize", steps=5)
    assert first(noisy.history, "input/std") > 3.5
    assert abs(first(clean.history, "input/mean")) < 1e-3 and abs(first(clean.history, "input/std") - 1) < 1e-3
    slow = watched(tmp_path, "baseline.py", "lr_down", steps=3)
    base = watched(tmp_path, "baseline.py", steps=3)
    ratio = first(slow.history, "update_ratio/W3/kernel") / first(base.history, "update_ratio/W3/kernel")
    assert ratio == pytest.approx(0.1, rel=0.02)  # same seed, same first batch: one tenth of the step


def test_activation_fix_turns_sigmoid_into_relu(tmp_path):
    outcome = watched(tmp_path, "fail2.py", "activation", steps=5)
    tags = set(outcome.history.train)
    assert "dead_fraction/weights_14" in tags and not any(t.startswith("saturated_fraction/") for t in tags)
    broken = watched(tmp_path, "fail2.py", steps=5)
    assert "saturated_fraction/weights_14" in broken.history.train  # the 8th hidden layer: the script's weights[14]


def test_keras_fit_gets_a_callback(tmp_path):
    outcome = watched(tmp_path, "keras_healthy.py", steps=40)
    history = outcome.history
    assert outcome.style == "keras fit" and outcome.steps_done == 40
    assert history.series("loss").steps == list(range(40))
    # Per-batch losses recovered from Keras's running means: they scatter, the running mean would not.
    losses = history.series("loss").array()
    assert losses[0] == pytest.approx(math.log(10), abs=0.15) and losses[20:].std() > 0.01
    layers = history.layers()
    assert layers == ["dense", "dense_1", "dense_2"]  # Keras' own layer names, input side first
    assert layers == list(history.facts.layer_order) and history.facts.output_layers == (layers[-1],)
    assert history.series(f"grad_norm/{layers[0]}/kernel").steps == list(range(0, 40, 10))  # probe batches
    assert history.series(f"dead_fraction/{layers[1]}").steps == list(range(0, 40, 10))
    assert history.series(f"update_ratio/{layers[-1]}/kernel").values[0] > 0
    assert history.val["accuracy"].values  # validation at the end of the first epoch


def test_a_script_that_names_w0_to_wout_is_diagnosed_in_its_own_names(tmp_path, capsys):
    """The course's naming (w0 ... w3, wout): the tags, the stated layers and the doctor's
    evidence read back from the event files by `tblab diagnose` all say w0, never dense_1."""
    import json

    from core.tensorboard.reader import read_run
    from tui.cli import main

    outcome = watched(tmp_path, FIXTURES / "named_w0_wout.py", steps=40)
    assert outcome.reason == "finished" and outcome.steps_done == 40
    on_disk = read_run(Path(outcome.logdir))
    assert on_disk.facts.layer_order == ("w0", "w1", "w2", "w3", "wout") and on_disk.facts.output_layers == ("wout",)
    assert {"grad_norm/w0/kernel", "grad_norm/w0/bias", "grad_norm/wout/kernel", "dead_fraction/w3"} <= set(on_disk.train)
    assert not any("dense_" in tag or "/output" in tag for tag in on_disk.train)
    capsys.readouterr()
    assert main(["diagnose", outcome.logdir, "--json"]) == 0
    (run,) = json.loads(capsys.readouterr().out)["runs"]
    dead = next(f for f in run["findings"] if f["id"] == "dead_relu")
    assert "w0: 100% of units output 0" in dead["evidence"] and "w3" in dead["evidence"]
    assert "wout" not in dead["evidence"] and "dense_" not in json.dumps(run)  # the output layer has no ReLU


def test_variables_named_only_inside_main_take_those_names(tmp_path):
    outcome = watched(tmp_path, FIXTURES / "names_in_main.py")
    assert outcome.steps_done == 5 and outcome.history.layers() == ["hidden_w", "out_w"]
    assert outcome.names == {"hidden_w/kernel": "hidden_w", "hidden_w/bias": "hidden_b",
                             "out_w/kernel": "out_w", "out_w/bias": "out_b"}


def test_layers_take_their_kernels_names_when_safe_and_unique():
    from core.watch.layout import name_layers

    assert name_layers(["w0", "w1", "wout"]) == ["w0", "w1", "wout"]
    assert name_layers(["", "w1", ""]) == ["dense_1", "w1", "output"]  # unnamed kernels: tblab's names
    assert name_layers(["w", "w", "out"]) == ["dense_1", "dense_2", "out"]  # the same name twice: neither keeps it
    assert name_layers(["weights[0]", "weights[2]", "weights[4]"]) == ["weights_0", "weights_2", "weights_4"]
    # Hostile names: a separator, terminal escapes, 300 characters, a reserved word, `output` not last.
    hostile = name_layers(["a/../b", "\x1b[2Jx", "é" * 5 + "z" * 300, "global", "output", "dense_1"])
    assert hostile[:3] == ["a_b", "dense_2", "z" * 40] and hostile[3:5] == ["dense_4", "dense_5"]  # "2Jx" starts no name
    assert hostile[5] == "dense_1" and len(set(hostile)) == 6
    # unique, whatever the script calls its layers
    assert name_layers(["dense_2", "", ""]) == ["dense_2", "dense_2_tblab2", "output"]



def test_a_variables_own_name_is_its_global_then_its_tf_or_keras_name_then_its_list_item():
    from types import SimpleNamespace as Var

    from core.watch.layout import own_names

    named, unnamed = Var(name="w0:0", path=None), Var(name="Variable_3:0", path=None)
    keras = Var(name="kernel", path="sequential/dense_1/kernel")
    bound = Var(name="first:0", path=None)
    found = own_names([named, unnamed, keras, bound], {"weights": [named, unnamed, keras], "W1": bound})
    assert [found[id(v)] for v in (named, unnamed, keras, bound)] == ["w0", "weights[1]", "dense_1", "W1"]
    assert own_names([named, unnamed, keras], {}) == {id(named): "w0", id(keras): "dense_1"}  # Variable_3 is no name


# --- bad input ----------------------------------------------------------------------------
def test_a_script_that_raises_shows_its_own_frames_only(tmp_path):
    outcome = watched(tmp_path, FIXTURES / "raises.py")
    assert outcome.reason == "error" and outcome.steps_done == 2
    assert 'raises.py", line 10, in broken_metric' in outcome.error
    assert "runpy" not in outcome.error and "core/watch" not in outcome.error
    assert "InvalidArgumentError" in outcome.error or "Matrix size-incompatible" in outcome.error


def test_a_script_that_never_trains_says_so(tmp_path):
    outcome = watched(tmp_path, FIXTURES / "no_training.py")
    assert outcome.reason == "finished" and outcome.steps_done == 0
    assert "without a training step" in outcome.message


@pytest.mark.quiet  # a wall-clock bound: the other test worker waits
def test_a_script_looping_forever_stops_on_request(tmp_path):
    run = WatchedScript(WatchRequest(FIXTURES / "forever.py"))
    events = run.start()
    for event in events:
        if isinstance(event, Output) and event.text == "waiting":
            break
    started = time.monotonic()
    run.stop()
    rest = list(events)
    assert isinstance(rest[-1], Ended) and rest[-1].reason == "stopped"
    assert time.monotonic() - started < 5 and run.process.poll() is not None


def test_a_chatty_script_does_not_hold_up_its_records(tmp_path):
    run = WatchedScript(WatchRequest(FIXTURES / "chatty.py"))
    steps = lines = 0
    for event in run.start():
        steps += isinstance(event, Step)
        lines += isinstance(event, Output)
        if isinstance(event, Ended):
            ended = event
    assert steps == 20 and ended.reason == "finished"
    assert lines + ended.dropped_output == 100_000


def test_the_child_dies_with_its_parent(tmp_path):
    parent = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from core.runs.watch import WatchedScript, WatchRequest, Output
        run = WatchedScript(WatchRequest(Path({str(FIXTURES / 'forever.py')!r})))
        for event in run.start():
            if isinstance(event, Output):
                print(run.process.pid, flush=True)
                time.sleep(60)
    """)
    process = subprocess.Popen([sys.executable, "-c", parent], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    child = int(process.stdout.readline())
    process.kill()  # no chance to clean up: only the kernel's death signal is left
    process.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(child, signal.SIGKILL)
        pytest.fail("the watched script outlived its parent")


def test_cli_watch_one_line_errors(tmp_path, capsys):
    from tui.cli import main

    assert main(["watch", str(tmp_path / "nope.py")]) == 2
    assert capsys.readouterr().err.strip() == f"tblab: {tmp_path / 'nope.py'}: no such file"
    assert main(["watch", str(EXAMPLES / "baseline.py"), "--fix", "no_noise"]) == 2
    assert "cannot apply" in capsys.readouterr().err


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupting_tblab_watch_stops_the_script_and_keeps_the_events(tmp_path, signum):
    command = [sys.executable, "-m", "tui.cli", "watch", str(EXAMPLES / "fail3.py"), "--logdir", str(tmp_path)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in process.stdout:
        if line.startswith("step 100:"):
            break
    started = descendants(process.pid)  # the watched script and what it runs; not another test's
    process.send_signal(signum)
    _, err = process.communicate(timeout=20)
    words = "interrupted" if signum == signal.SIGINT else "stopped by SIGTERM"
    assert process.returncode == 128 + signum and words in err  # the same code and words as every command
    assert not re.search(r"^[IWEF]\d{4} |absl::|oneDNN|cudart", err, re.M), err  # TensorFlow's C++ lines go to its log
    from core.tensorboard.reader import read_run

    (logdir,) = (tmp_path / "fail3").iterdir()
    assert read_run(logdir).series("loss").steps[:101] == list(range(101))
    assert started and not left_after(started, timeout=0)


def test_pacer_spaces_the_full_statistics_to_their_share_of_the_step():
    from core.watch.pacing import StatsPacer

    def fulls(cost: float) -> list[int]:
        pacer, steps = StatsPacer(share=0.1, first_full=3, max_every=10), []
        for step in range(40):
            if pacer.is_full(step, 0.002 * step):  # a step every 2 ms
                steps.append(step)
                pacer.measured(cost)
        return steps

    def gaps(steps: list[int]) -> set[int]:
        return {b - a for a, b in itertools.pairwise(steps[3:])}

    assert fulls(0.0001) == list(range(40))  # within 10% of the step: every step
    paced = fulls(0.0005)  # 0.5 ms against 0.2 ms allowed: every 3rd step
    assert paced[:3] == [0, 1, 2] and gaps(paced) == {3}
    assert gaps(fulls(1.0)) == {10}  # never sparser than max_every


def test_nonfinite_count_is_exact_when_a_finite_sum_overflows():
    import numpy as np

    from core.watch.stats import count_nonfinite_values

    huge = np.full(8, 3e38, np.float32)  # finite values whose float32 sum is inf
    assert count_nonfinite_values([huge]) == 0.0
    broken = huge.copy()
    broken[[1, 5]] = [np.nan, -np.inf]
    assert count_nonfinite_values([broken, np.arange(3), np.float32(np.inf)]) == 3.0
