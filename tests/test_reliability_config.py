"""Bad configs, arguments and scenario files: one line on stderr, exit 2, no run folder left,
never a traceback. Every RunConfig field is fuzzed with wrong types and out-of-range values."""

from __future__ import annotations

import dataclasses
import math

import pytest

from core.schema.config import RunConfig
from core.schema.scenario import ScenarioError, discover, load_scenario_file
from tui.cli import main

WRONG_TYPES = [None, "1", [], {}, b"x", object()]
BAD_VALUES = {
    "hidden_layers": [-1, 65, 2.5, True],
    "hidden_units": [0, -3, 200000, 2.5, False],
    "activation": ["ReLU!", "", "softmax", 1],
    "init": ["normal(-1)", "normal(0)", "uniform(1,-1)", "uniform(0,inf)", "normal(1.2.3)", "gauss", 3],
    "bias_init": [math.nan, math.inf, "0", True],
    "softmax_before_loss": [1, 0, "yes", None],
    "input_noise_std": [-0.1, math.nan, math.inf, True],
    "normalization": ["zscore", 0],
    "shuffle_labels": [1, "no"],
    "optimizer": ["rmsprop", ""],
    "learning_rate": [0, -1, math.nan, math.inf, False],
    "batch_size": [0, -1, 2.5, 10**6, True],
    "steps": [0, -5, 2.5, 10**12],
    "seed": [-1, 2**31, 1.5, True],
    "histogram_every": [0, -1, 1.5],
    "image_every": [0, 2.5],
    "eval_every": [0, "10"],
    "stop_on_nonfinite": [1, None],
}

CASES = [
    (name, value)
    for field in dataclasses.fields(RunConfig)
    for name, values in [(field.name, BAD_VALUES[field.name] + WRONG_TYPES)]
    for value in values
]


def test_every_field_has_bad_values_listed():
    assert set(BAD_VALUES) == {f.name for f in dataclasses.fields(RunConfig)}


# Ids without object addresses: pytest-xdist workers must collect the same names.
@pytest.mark.parametrize("name,value", CASES, ids=[f"{n}={'object()' if type(v) is object else repr(v)}"[:40] for n, v in CASES])
def test_every_bad_field_is_one_line_value_error_naming_it(name, value):
    with pytest.raises(ValueError) as caught:
        RunConfig(**{name: value})
    message = str(caught.value)
    assert "\n" not in message and (name in message or "initializer" in message), message


def test_a_too_large_model_is_refused_before_any_allocation():
    with pytest.raises(ValueError, match="parameters"):
        RunConfig(hidden_layers=20, hidden_units=8000)


def scenario_file(folder, name, config_text):
    path = folder / f"{name}.py"
    path.write_text(
        "from core.schema.config import RunConfig\nfrom core.schema.scenario import Scenario\n"
        f"SCENARIO = Scenario(name='{name}', title='t', symptom='s', diagnosis='d', config=RunConfig({config_text}))\n"
    )
    return path


@pytest.mark.parametrize("config_text", ["init='normal(-1)'", "steps=2.5", "batch_size=2.5", "seed=-1", "hidden_units=200000"])
def test_run_with_a_bad_scenario_config_is_one_line_exit_2_and_no_folder(tmp_path, capsys, config_text):
    path = scenario_file(tmp_path, "bad", config_text)
    logs = tmp_path / "logs"
    assert main(["run", str(path), "--steps", "5", "--logdir", str(logs)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("tblab: ") and "\n" not in err and "Traceback" not in err, err
    assert not logs.exists()


@pytest.mark.parametrize("args", [["--seed", "-1"], ["--seed", "99999999999"], ["--steps", "0"], ["--steps", "-3"]])
def test_run_with_bad_arguments_is_one_line_exit_2_and_no_folder(tmp_path, capsys, args):
    logs = tmp_path / "logs"
    assert main(["run", "baseline", *args, "--logdir", str(logs)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("tblab: ") and "\n" not in err, err
    assert not logs.exists()


@pytest.mark.parametrize("args,says", [
    (["--port", "70000"], "not a TCP port"), (["--port", "-1"], "not a TCP port"), (["--port", "0"], "not a TCP port"),
    (["--host", "256.1.1.1"], "not an IP address"), (["--host", "::1"], "IPv4"), (["--host", "no such host"], "not an IP address"),
])
def test_board_with_bad_port_or_host_is_one_line_exit_2(tmp_path, capsys, args, says):
    assert main(["board", "--logdir", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert says in err and "busy" not in err and "\n" not in err, err


@pytest.mark.parametrize("command", [["sweep", "--jobs", "0"], ["report", "--jobs", "0"], ["sweep", "--jobs", "-2"]])
def test_pool_commands_refuse_zero_workers(tmp_path, capsys, command):
    assert main([*command, "--logdir", str(tmp_path / "logs")]) == 2
    assert "--jobs must be >= 1" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["sweep", "report"])
def test_out_under_a_regular_file_is_refused_before_any_run(tmp_path, capsys, command):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main([command, "--out", str(blocker / "table.md"), "--logdir", str(tmp_path / "logs")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert not (tmp_path / "logs").exists()


BROKEN_IMPORTS = {
    "exits": ("import sys\nsys.exit(3)\n", "sys.exit(3)"),
    "interrupts": ("raise KeyboardInterrupt\n", "KeyboardInterrupt"),
    "base": ("class Boom(BaseException):\n    pass\nraise Boom('deep')\n", "Boom: deep"),
    "syntax": ("def (:\n", "syntax error"),
}


def test_scenario_files_that_exit_or_interrupt_at_import_are_listed_as_broken(tmp_path):
    for name, (text, _) in BROKEN_IMPORTS.items():
        (tmp_path / f"{name}.py").write_text(text)
    scenario_file(tmp_path, "fine", "steps=5")
    results = {r.path.stem: r for r in discover(tmp_path)}
    assert results["fine"].scenario is not None
    for name, (_, says) in BROKEN_IMPORTS.items():
        assert results[name].scenario is None and says in results[name].error, results[name].error


def test_run_of_a_scenario_that_exits_at_import_says_so(tmp_path, capsys):
    (tmp_path / "exits.py").write_text("import sys\nsys.exit(3)\n")
    assert main(["run", str(tmp_path / "exits.py"), "--logdir", str(tmp_path / "logs")]) == 2
    assert "sys.exit(3)" in capsys.readouterr().err


def test_a_text_file_as_a_scenario_says_it_is_not_python(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("these are my notes about fail1\n")
    with pytest.raises(ScenarioError, match="is not a Python file"):
        load_scenario_file(notes)


def test_the_lab_opens_with_a_bad_file_in_its_scenario_folder(tmp_path):
    from tui.app import make_app

    (tmp_path / "exits.py").write_text("import sys\nsys.exit(3)\n")
    (tmp_path / "interrupts.py").write_text("raise KeyboardInterrupt\n")
    app = make_app([tmp_path], preload_tensorflow=False)
    broken = [slot for slot in app.state.slots if slot.broken]
    assert len(broken) == 2 and any(slot.name == "baseline" and not slot.broken for slot in app.state.slots)


def test_a_text_file_as_data_is_not_called_pickled(tmp_path, capsys):
    text = tmp_path / "digits.txt"
    text.write_text("1,2,3\n")
    assert main(["run", "baseline", "--steps", "5", "--data", str(text), "--logdir", str(tmp_path / "logs")]) == 2
    err = capsys.readouterr().err
    assert "pickle" not in err and "not a readable .npz" in err


# --- diagnose --verify: the log never says how long to train --------------------------------
def _failing_history(config_text: str, last_step: int | None = None):
    from core.schema.history import StepRecord
    from tests.test_doctor import build, vanishing_records

    history = build(vanishing_records())  # primary: vanishing gradients, which has fixes to verify
    history.facts = history.facts.with_text("config", config_text)  # as read back from a text tag
    if last_step is not None:
        history.add(StepRecord(last_step, {"loss": 2.3}))
    return history


@pytest.mark.parametrize("last_step", [2**62, 10**8])
def test_verify_never_takes_its_length_from_the_log(last_step):
    from core.doctor import diagnose
    from core.runs.verify import DEFAULT_STEPS_LIMIT
    from tests.helpers import tiny_mnist
    from tui.commands.diagnose import _verify

    huge = RunConfig(hidden_layers=2, steps=10**8).to_json()
    history = _failing_history(huge, last_step)
    verification, note = _verify(history, diagnose(history), None, data=tiny_mnist())
    assert verification is None and "pass --steps" in note and str(DEFAULT_STEPS_LIMIT) in note
    # the logged config's own steps, when modest, are the default; the log's last step never is
    small = _failing_history(RunConfig(hidden_layers=1, hidden_units=8, steps=4).to_json(), last_step)
    verification, note = _verify(small, diagnose(small), None, data=tiny_mnist())
    assert note == "" and verification.after.steps == 4
    verification, _ = _verify(history, diagnose(history), 3, data=tiny_mnist())  # the user's --steps
    assert verification.after.steps == 3


# (a nesting bomb such as "[" * 100000 is the text-tag reader's to bound: core/schema/facts.py)
@pytest.mark.parametrize("text", ["[1, 2]", '{"steps": 1e400}', '{"steps": "many"}', '{"steps": 2.5}', "null", "{"])
def test_a_crafted_logged_config_means_no_config(text):
    from core.runs.verify import logged_config

    assert logged_config(_failing_history(text)) is None
