"""The hand-in `tblab report` writes: figures that decode at their stated size, a notebook
that validates, log axes for a run that goes non-finite, no machine paths, no `nan`, and
the script's own variable names in the text."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from core.runs.handin.attempts import SCRIPT, Attempt, JobRow, Target
from core.runs.handin.choose import choose
from core.runs.handin.diff import script_change
from core.runs.handin.names import fmt, plain, rename
from core.runs.handin.sections import Entry, section, summary_table
from core.schema.history import History, StepRecord
from core.schema.tags import ACCURACY, LOSS, NONFINITE_COUNT

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NAN_TOKEN = re.compile(r"\bnan\b", re.IGNORECASE)


def _history(steps: int, loss, blow_up_at: int | None = None) -> History:
    history = History(run="synthetic")
    for step in range(steps):
        value = float(loss(step))
        if blow_up_at is not None and step >= blow_up_at:
            value = math.nan
        scalars = {LOSS: value, ACCURACY: 0.1 if blow_up_at else min(0.9, 0.1 + step / steps),
                   NONFINITE_COUNT: float(blow_up_at is not None and step >= blow_up_at)}
        for i, layer in enumerate(("dense_1", "dense_2", "output")):
            scalars[f"grad_norm/{layer}/kernel"] = (100.0 if blow_up_at else 0.5) * 2.0 ** i
        history.add(StepRecord(step, scalars))
    history.add_val(steps - 1, {ACCURACY: 0.1 if blow_up_at else 0.9})
    return history


def _attempt(history: History, fixes=(), accuracy=math.nan) -> Attempt:
    from core.doctor import diagnose

    return Attempt(JobRow(tuple(fixes), accuracy, "", history.last_step() + 1), history, diagnose(history))


def _png_size(path: Path) -> tuple[int, int]:
    from matplotlib import image

    height, width = image.imread(path).shape[:2]
    return width, height


def test_a_run_that_goes_nonfinite_is_drawn_on_log_axes_and_decodes_at_its_size(tmp_path: Path):
    from core.runs.handin.figures import curves, ladder, needs_log

    exploded = _history(40, lambda s: 3.0 * 10 ** s, blow_up_at=25)
    healthy = _history(40, lambda s: 2.3 / (1 + s))
    figure = curves(tmp_path, "curves.png", "fail1.py", exploded, healthy)
    assert figure.log_y[0] is True
    assert _png_size(tmp_path / figure.name) == (figure.width, figure.height)
    plain_run = curves(tmp_path, "plain.png", "baseline.py", healthy, None)
    assert plain_run.log_y[0] is False  # 2.3 -> 0.06 spans under three decades: linear
    assert needs_log(np.array([1.0, 2e4])) and not needs_log(np.array([1.0, 999.0]))
    rungs = ladder(tmp_path, "ladder.png", "fail1.py", exploded, healthy, (0, 0), {"dense_1": "w0", "output": "wout"})
    assert rungs.log_y == (True,) and _png_size(tmp_path / rungs.name) == (rungs.width, rungs.height)
    assert figure.overlaps == plain_run.overlaps == rungs.overlaps == 0  # titles, labels, legends apart


def test_overlapping_text_is_counted():
    from core.runs.handin.figures import _pyplot, count_overlaps

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.set_title("a title")
    ax.plot([0, 1], label="a legend on top of the title")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, 1.15))
    fig.canvas.draw()
    assert count_overlaps(fig) >= 1
    plt.close(fig)


def test_text_names_layers_as_the_script_does_and_never_says_nan():
    names = {"dense_1": "w0", "dense_2": "w1", "output": "wout"}
    assert rename("dense_1 gradient norm 3e-08, 6 orders below output; the output layer", names) == \
        "w0 gradient norm 3e-08, 6 orders below wout; the output layer"
    assert not NAN_TOKEN.search(plain("loss is nan/inf; dense_1 nan, weights inf"))
    assert fmt(math.nan) == "non-finite" and fmt(None) == "none" and fmt(2000) == "2000"
    from core.runs.handin.names import layer_names

    watched = {"dense_1/kernel": "W1", "dense_1/bias": "b1", "dense_2/kernel": "weights[2]",
               "output/kernel": "sequential/dense_8/kernel"}  # a global, a list item, a Keras variable's path
    assert layer_names(watched) == {"dense_1": "W1", "dense_2": "weights[2]", "output": "dense_8"}
    # A watched run's tags carry the script's names; a list item's, made a safe tag, reads as written.
    listed = layer_names({"weights_0/kernel": "weights[0]", "weights_0/bias": "weights[1]", "weights_10/kernel": "weights[10]"})
    assert rename("weights_0 gradient norm 3e-08, 6 orders below weights_10", listed) == \
        "weights[0] gradient norm 3e-08, 6 orders below weights[10]"


def test_section_says_real_steps_names_and_no_nan(tmp_path: Path):
    before = _attempt(_history(60, lambda s: 3.0 * 10 ** s, blow_up_at=20), accuracy=0.1)
    after = _attempt(_history(60, lambda s: 2.3 / (1 + s)), ("init",), 0.85)
    entry = Entry(Target(SCRIPT, str(EXAMPLES / "fail1.py"), "fail1.py"), before, [after],
                  names={"dense_1": "w0", "dense_2": "w1", "output": "wout"})
    entry.choice = choose(before, [after])
    from core.runs.handin.figures import curves

    entry.figures = [curves(tmp_path, "fail1-curves.png", "fail1.py", before.history, after.history)]
    text = section(entry) + summary_table([entry])
    assert entry.figures[0].log_y[0] and "(loss on a log axis)](figures/fail1-curves.png)" in text
    assert entry.choice.fix is after
    assert "from step 20" in text and "60 steps" in text and "2000" not in text
    assert "w0" in text and "dense_1" not in text
    assert not NAN_TOKEN.search(text)
    assert "0.100 -> 0.850" in text


def test_fix_diffs_point_at_the_learners_lines():
    source = (EXAMPLES / "fail5.py").read_text()
    change = script_change(source, "fail5.py", ("logits",), "he", {})
    assert "-    return tf.nn.softmax(tf.matmul(h2, W3) + b3)" in change.diff
    assert "+    return tf.matmul(h2, W3) + b3  # logits" in change.diff and not change.words
    noise = script_change((EXAMPLES / "fail4.py").read_text(), "fail4.py", ("no_noise", "normalize"), "he", {})
    assert "+    x_noisy = x  # no noise" in noise.diff
    assert noise.words and noise.words[0].startswith("normalize")  # no line to point at: said in words
    sigmoid = script_change((EXAMPLES / "fail2.py").read_text(), "fail2.py", ("activation", "init"), "glorot", {})
    assert "tf.nn.relu" in sigmoid.diff and "HeNormal" in sigmoid.diff  # ReLU gets He, as the fix does


def test_notebook_validates(tmp_path: Path):
    import nbformat

    from core.runs.handin.notebook import write_handin

    ipynb, md = write_handin(tmp_path, ["# title", "| a | b |\n|---|---|\n| 1 | 2 |"])
    book = nbformat.read(str(ipynb), as_version=4)
    nbformat.validate(book)
    assert book.nbformat == 4 and all(cell.cell_type == "markdown" for cell in book.cells)
    assert md.read_text().startswith("# title")


def test_report_on_a_watched_script_end_to_end(tmp_path: Path):
    """Real runs (tiny): fail3.py as handed out and with the doctor's fix, under tblab watch."""
    import nbformat

    from core.runs.report import HandinRequest, build_handin

    out = tmp_path / "handin"
    target = Target(SCRIPT, str(EXAMPLES / "fail3.py"), "fail3.py")
    result = build_handin(HandinRequest((target,), out, steps=60, log_root=tmp_path / "logs", workers=2))
    assert not result.stopped
    nbformat.validate(nbformat.read(str(out / "report.ipynb"), as_version=4))
    text = (out / "report.md").read_text()
    notebook_text = (out / "report.ipynb").read_text()
    for written in (text, notebook_text):
        assert str(tmp_path) not in written and "/tmp/" not in written and not re.search(r"\]\(/", written)
        assert not NAN_TOKEN.search(written)
    assert "W1" in text and "W2" in text and "dense_1" not in text  # the script's own names
    assert "| fail3.py |" in text and "```diff" in text and "HeNormal" in text and "\nData: " in text
    entry = result.entries[0]
    assert entry.choice is not None and entry.choice.fix is not None and entry.choice.fix.fixes == ("init",)
    for figure in entry.figures:
        assert figure.overlaps == 0
        assert _png_size(out / "figures" / figure.name) == (figure.width, figure.height)
        assert f"](figures/{figure.name})" in text
        svg = (out / "figures" / figure.name).with_suffix(".svg").read_text()
        assert "<svg" in svg and str(tmp_path) not in svg
    assert json.loads(notebook_text)["nbformat"] == 4
    _lab_handin_from_the_same_runs(tmp_path, entry)


def _lab_handin_from_the_same_runs(tmp_path: Path, entry):
    """The lab's key adds a before/after pair; `--from-lab` writes it without new runs."""
    from types import SimpleNamespace

    from core.runs.handin.labfile import HandinFileError, add_lab_pair, handin_path, read_pairs
    from core.runs.report import build_from_lab

    log_root = tmp_path / "logs"
    slot = SimpleNamespace(name="fail3.py", script=SimpleNamespace(path=EXAMPLES / "fail3.py"), scenario=None)
    runs = [SimpleNamespace(logdir=a.row.logdir, fixes=a.fixes, test_accuracy=a.row.test_accuracy, active=False)
            for a in (entry.before, entry.choice.fix)]
    with pytest.raises(HandinFileError):
        add_lab_pair(log_root, slot, None, runs[1])  # no run before this one: nothing to pair
    add_lab_pair(log_root, slot, *runs)
    assert str(tmp_path) not in handin_path(log_root).read_text()  # log folders relative to the log root
    assert [p.after.fixes for p in read_pairs(log_root)] == [("init",)]
    out = tmp_path / "from-lab"
    result = build_from_lab(log_root, out)
    text = (out / "report.md").read_text()
    assert result.entries[0].choice.fix is not None and "W1" in text and str(tmp_path) not in text
    assert "chosen in the lab" in text


def test_only_the_report_loads_matplotlib():
    import subprocess
    import sys

    code = "import sys, tui.cli, core.runs.report, tui.commands.report; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("bad", ["file", "missing-script", "md-name"])
def test_report_command_rejects_bad_input_in_one_line(tmp_path: Path, bad: str, capsys):
    from tui.cli import main

    if bad == "file":
        (tmp_path / "f").write_text("x")
        code = main(["report", "--out", str(tmp_path / "f")])
    elif bad == "md-name":
        code = main(["report", "--out", str(tmp_path / "REPORT.md")])
    else:
        code = main(["report", str(tmp_path / "nope.py"), "--out", str(tmp_path / "out")])
    assert code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_ctrl_c_writes_up_the_runs_that_finished(tmp_path: Path):
    import os
    import signal

    from tests.reliability_procs import TINY, descendants, first_matching_line, left_after, start_cli

    (tmp_path / "quick.py").write_text(TINY.format(steps=40).replace('name="tiny"', 'name="quick"'))
    (tmp_path / "slow.py").write_text(TINY.format(steps=500_000).replace('name="tiny"', 'name="slow"'))
    out = tmp_path / "handin"
    process = start_cli("report", str(tmp_path / "quick.py"), str(tmp_path / "slow.py"), "--jobs", "2",
                        "--out", str(out), "--logdir", str(tmp_path / "logs"), env=dict(os.environ), group=True)
    assert first_matching_line(process, r"quick .*test accuracy", timeout=240)
    workers = descendants(process.pid)
    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C in a terminal reaches the whole process group
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130 and "Traceback" not in stderr, stderr
    assert left_after(workers) == set()
    text = (out / "report.md").read_text()
    assert "Stopped before it finished" in text and "## quick" in text and "## slow" not in text


async def test_lab_key_h_adds_the_last_two_runs_to_the_handin(tmp_path: Path):
    from core.runs.handin.labfile import handin_path, read_pairs
    from tests.tui_canned import RunEnded, canned_results, feed_run
    from tui.app import LabApp

    app = LabApp(canned_results(), log_root=tmp_path, preload_tensorflow=False)
    async with app.run_test(size=(120, 34)) as pilot:
        await feed_run(pilot, 0, (), healthy=False, steps=200)
        after = await feed_run(pilot, 0, ("activation",), healthy=True, steps=200, end=None)
        await pilot.press("h")  # the after run is still going: nothing is added
        await pilot.pause()
        assert not handin_path(tmp_path).exists()
        app.post_message(RunEnded(after, "finished", "200 steps", test_accuracy=0.9))
        await pilot.pause()
        await pilot.press("h")
        await pilot.pause()
    [pair] = read_pairs(tmp_path)
    assert pair.before.fixes == () and pair.after.fixes == ("activation",)
    assert pair.after.test_accuracy == 0.9 and pair.kind == "scenario"
