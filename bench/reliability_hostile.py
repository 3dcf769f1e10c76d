"""The hostile rows of bench/reliability_table.py (issue 23): hostile scripts under
`tblab watch`, traversing names, a shadowing working folder, a full disk.

Each measure returns a Row: inputs tried and held, processes left behind, and bytes
written outside the log root (every file that appeared outside it, summed).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TBLAB = str(Path(sys.executable).parent / "tblab")
SHADOW = "import pathlib\npathlib.Path(__file__).with_name('SHADOW_RAN').write_text('ran')\nraise SystemExit(1)\n"


def _files(folder: Path) -> dict[Path, int]:
    return {p: p.stat().st_size for p in folder.rglob("*") if p.is_file()}


def _outside(tmp: Path, before: dict[Path, int], root: Path) -> int:
    """Bytes in files that appeared (or grew) under tmp but outside the log root."""
    after = _files(tmp)
    return sum(size - before.get(p, 0) for p, size in after.items() if root not in p.parents and size != before.get(p))


def _left(marker: str) -> int:
    """Processes still running whose command line holds `marker` (a unique temp folder of
    this bench): counted, then each stopped by its pid."""
    found = [int(pid) for pid in subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True,
                                                check=False).stdout.split()]
    for pid in found:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return len(found)


def hostile_scripts(tmp: Path, env: dict, row_type):
    from tests.reliability_scripts import ODD_STEMS, SCRIPTS, write_script

    row = row_type("hostile scripts under watch (forks, server, sleeper, stdin, args, odd stems, never training, "
                   "two models, a tf.distribute strategy)")
    cwd, root = tmp / "cwd", tmp / "logs"
    cwd.mkdir()
    (cwd / "numpy.py").write_text(SHADOW)
    cases = [(name, None) for name in SCRIPTS if name != "serves_and_trains"] + [("arguments", stem) for stem in ODD_STEMS]
    scripts = []
    for number, (name, stem) in enumerate(cases):
        (tmp / f"scripts-{number}").mkdir()
        scripts.append((name, write_script(tmp / f"scripts-{number}", name, stem)))
    before = _files(tmp)
    failed: list[str] = []
    for name, script in scripts:
        folder = script.parent
        started = time.monotonic()
        idle = "10" if name == "never_trains" else "120"  # a first step can take 10 s on a loaded machine
        done = subprocess.run([TBLAB, "watch", str(script), "--idle-timeout", idle, "--logdir", str(root), "--", "a"],
                              cwd=cwd, env=env, input="piped\n", capture_output=True, text=True, timeout=300, check=False)
        took = time.monotonic() - started
        left = _left(str(folder))
        row.tried += 1
        row.left += left
        expected = 1 if name == "never_trains" else 0
        ok = done.returncode == expected and took < 45 and not left and "Traceback" not in done.stderr
        ok = ok and ("read: piped" in done.stdout if name == "stdin" else True)
        ok = ok and ("argv: ['a']" in done.stdout if name == "arguments" else True)
        ok = ok and ("6 steps (finished)" in done.stdout if name == "strategy" else True)  # recorded, every step
        ok = ok and ("10 steps unrecorded" in done.stdout if name == "two_models" else True)  # the other model's, said
        row.survived += ok
        if not ok:
            failed.append(f"{script.name} (exit {done.returncode}, {took:.0f} s, {left} left)")
            print(f"  failed: {failed[-1]}: {done.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
    row.outside = _outside(tmp, before, root)
    row.survived -= (cwd / "SHADOW_RAN").exists() * row.tried  # a shadow that ran fails every case
    row.note = "working folder holds a numpy.py; --idle-timeout 10 for the never-training script; stdin piped" + (
        f"; failed: {', '.join(failed)}" if failed else "")
    return row


def traversal(tmp: Path, env: dict, row_type):
    from core.system.rundir import run_logdir
    from tests.reliability_procs import TINY
    from tests.reliability_scripts import ODD_STEMS
    from tests.test_reliability_paths import HOSTILE_NAMES

    row = row_type("traversing / odd names (scenario names, script stems) -> run folders")
    root = tmp / "outer" / "logs"
    before = _files(tmp)
    for name in HOSTILE_NAMES + ODD_STEMS:
        row.tried += 1
        logdir = run_logdir(root, name)
        row.survived += logdir.parent.parent == root and logdir.is_dir()
    scenario = tmp / "scen.py"
    scenario.write_text(TINY.format(steps=3).replace('name="tiny"', 'name="../../X"'))
    done = subprocess.run([sys.executable, "-m", "tui.cli", "run", str(scenario), "--logdir", str(root)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    row.tried += 1
    row.survived += done.returncode == 0
    row.outside = _outside(tmp, before, root) - scenario.stat().st_size
    row.note = "incl. one real `tblab run` of a scenario named ../../X"
    return row


def full_disk(tmp: Path, env: dict, row_type):
    from tests.reliability_procs import TINY
    from tests.reliability_scripts import SCRIPTS

    row = row_type("full disk mid-run (128 KiB tmpfs): run and watch")
    disk = tmp / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=128k", "tmpfs", str(disk)], capture_output=True, check=False).returncode:
        row.note = "skipped: cannot mount a tmpfs here"
        return row
    try:
        scenario, script = tmp / "long.py", tmp / "long_script.py"
        scenario.write_text(TINY.format(steps=20000))
        script.write_text(SCRIPTS["arguments"].replace("STEPS = 5", "STEPS = 20000"))
        for command in (["run", str(scenario)], ["watch", str(script)]):
            shutil.rmtree(disk / "logs", ignore_errors=True)  # each command starts on an empty disk
            done = subprocess.run([sys.executable, "-m", "tui.cli", *command, "--logdir", str(disk / "logs")], cwd=ROOT,
                                  env=env, capture_output=True, text=True, timeout=300, check=False)
            text = done.stdout + done.stderr
            row.tried += 1
            row.survived += (done.returncode == 1 and "Traceback" not in text and text.count("the disk is full") == 1
                             and "TensorBoard logs:" in done.stdout)
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
    row.note = "one line, summary printed, steps kept"
    return row


MEASURES = (hostile_scripts, traversal, full_disk)
