"""Nothing tblab writes lands outside the log root, whatever the scenario's name or the
script's stem (`../../X`, an absolute path, `..`, terminal escapes, unicode, 300 bytes), and
no name reaches the terminal with its control characters."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.system.names import NAME_MAX_BYTES, path_component, printable
from core.system.rundir import RunError, prepare_logdir, run_logdir
from tests.reliability_procs import ROOT, TINY
from tests.reliability_scripts import ODD_STEMS, write_script

HOSTILE_NAMES = ["../../X", "/tmp/abs", "..", ".", "", "a/b", "a\\b", "\x1b[2J\x1b]0;title\x07", "x" * 300,
                 "é" * 200, "模型", "..\x00..", " ", "...hidden"] + ODD_STEMS
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TBLAB_NO_DOWNLOAD": "1"}


def files_under(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*")}


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_every_name_becomes_one_folder_inside_the_root(tmp_path, name):
    root = tmp_path / "logs"
    logdir = run_logdir(root, name, ("init",))
    assert logdir.is_dir() and logdir.parent.parent == root
    component = logdir.parent.name
    assert component == path_component(name) and component not in ("", ".", "..")
    assert "/" not in component and printable(component) == component
    assert len(component.encode()) <= NAME_MAX_BYTES and len(logdir.name.encode()) <= NAME_MAX_BYTES
    assert [p for p in files_under(tmp_path) if root not in p.parents and p != root] == []


def test_a_symlinked_scenario_folder_leading_outside_is_refused(tmp_path):
    (tmp_path / "logs").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "logs" / "fail2").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(RunError, match="outside the log root"):
        run_logdir(tmp_path / "logs", "fail2")
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_an_unusable_log_folder_is_refused_with_what_is_actually_there(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    cases = {
        "/proc": "/proc takes no new files",  # exists, yet creating in it says "No such file"
        "/proc/tblab/logs": "/proc takes no new files",
        "/dev/null": "/dev/null is not a folder",  # mkdir's own words: "File exists"
        str(blocker / "logs"): f"{blocker} is a file, not a folder",
    }
    for folder, reason in cases.items():
        with pytest.raises(RunError) as raised:
            prepare_logdir(folder)
        assert str(raised.value) == f"cannot write logs to {folder}: {reason}" or reason in str(raised.value), str(raised.value)


def test_printable_strips_terminal_escapes_and_keeps_letters():
    assert printable("run\x1b[2J\x1b]0;t\x07\r\u202e名") == "run[2J]0;t名"


def test_run_and_watch_with_traversing_names_write_only_inside_the_root(tmp_path):
    root = tmp_path / "outer" / "logs"
    scenario = tmp_path / "scen.py"
    scenario.write_text(TINY.format(steps=3).replace('name="tiny"', 'name="../../X"'))
    script = write_script(tmp_path, "arguments", stem="..")  # the file is '...py'
    before = files_under(tmp_path)
    for command in (["run", str(scenario)], ["watch", str(script)]):
        done = subprocess.run([sys.executable, "-m", "tui.cli", *command, "--logdir", str(root)], cwd=ROOT, env=ENV,
                              capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
    # the root and its parents are made; nothing else outside it
    outside = [p for p in files_under(tmp_path) - before if root not in p.parents and p != root and p not in root.parents]
    assert outside == [], outside
    assert {p.name for p in root.iterdir() if p.is_dir()} == {"___.._X", "__"}
