"""The reliability table of issue 11: inputs tried, inputs survived, processes left behind.

    python bench/reliability_table.py [--memory]

- damaged logs: the generated corpus (tests/reliability_corpus.py) beside two healthy runs,
  through one `tblab diagnose ROOT --json`: survived = diagnosed with a warning, healthy
  runs intact, exit 0 (was: SIGSEGV, exit 139, every run lost);
- bad configs and arguments: every RunConfig field with wrong types and ranges, and bad
  CLI arguments: survived = one line on stderr, exit 2, no run folder;
- signals: SIGINT / SIGTERM / SIGHUP / SIGKILL to board, run, sweep and (in tmux) the lab:
  survived = the expected exit code and no process left (the processes-left column);
- concurrency: N runs started together: survived = N folders, one event file each;
- hostile scripts, traversing names, a full disk (bench/reliability_hostile.py): survived =
  the expected exit code, nothing imported from the working folder, no process left, and
  the bytes-outside column counts what was written outside the log root.
--memory adds bench/memory_long_run.py's 200k-step headless run (about 4 minutes).
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import redirect_stderr
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TBLAB_NO_DOWNLOAD", "1")

from tests.reliability_procs import (
    TINY,
    children_of,
    descendants,
    first_matching_line,
    free_port,
    left_after,
    port_open,
    start_cli,
)

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


@dataclasses.dataclass
class Row:
    what: str
    tried: int = 0
    survived: int = 0
    left: int = 0
    note: str = ""
    outside: int = 0  # bytes written outside the log root


def start(*args: str, group: bool = False) -> subprocess.Popen:
    return start_cli(*args, env=ENV, group=group)


def wait_for_line(process: subprocess.Popen, pattern: str, timeout: float = 180) -> bool:
    return first_matching_line(process, pattern, timeout) is not None


def exit_code(process: subprocess.Popen, timeout: float = 60) -> int | None:
    """The exit code, or None for a process that did not stop in time: killed then, so the
    row counts it as not survived instead of the table crashing and leaving it running."""
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return None


def damaged_logs(tmp: Path) -> Row:
    from core.runs.recipe import record_run
    from core.schema.config import RunConfig
    from tests.helpers import tiny_mnist
    from tests.reliability_corpus import build_corpus

    healthy = tmp / "healthy-source"
    record_run(RunConfig(hidden_units=8, steps=20, eval_every=5, histogram_every=5), data=tiny_mnist(), logdir=healthy)
    root = tmp / "corpus"
    runs = build_corpus(root, healthy)
    out = subprocess.run([sys.executable, "-m", "tui.cli", "diagnose", str(root), "--json"], cwd=ROOT, env=ENV,
                         capture_output=True, text=True, timeout=600, check=False)
    if out.returncode != 0:
        return Row("damaged event files (one diagnose over all)", len(runs), 0, note=f"exit {out.returncode}")
    diagnosed = {run["run"]: run for run in json.loads(out.stdout)["runs"]}
    survived = sum(1 for name in runs if diagnosed.get(name, {}).get("warnings"))
    healthy_ok = not diagnosed.get("healthy", {}).get("warnings", ["missing"])
    return Row("damaged event files (one diagnose over all)", len(runs), survived,
               note=f"exit 0; healthy run beside them {'intact' if healthy_ok else 'LOST'}")


def bad_configs(tmp: Path) -> Row:
    from core.schema.config import RunConfig
    from tests.test_reliability_config import CASES

    survived = 0
    for name, value in CASES:
        try:
            RunConfig(**{name: value})
        except ValueError as error:
            survived += "\n" not in str(error)
    return Row("RunConfig fields x wrong types / ranges", len(CASES), survived, note="one-line ValueError each")


def bad_arguments(tmp: Path) -> Row:
    from tui.cli import main

    scenario = tmp / "bad.py"
    blocker = tmp / "blocker"
    blocker.write_text("x")
    text = tmp / "notes.txt"
    text.write_text("notes\n")
    cases = [["run", "baseline", "--seed", "-1"], ["run", "baseline", "--steps", "0"], ["run", "baseline", "--steps", "-5"],
             ["run", str(text)], ["run", "baseline", "--data", str(text)], ["run", "nosuchscenario"],
             ["board", "--port", "70000"], ["board", "--port", "-1"], ["board", "--host", "256.1.1.1"], ["board", "--host", "::1"],
             ["sweep", "--jobs", "0"], ["report", "--jobs", "0"], ["sweep", "--out", str(blocker / "t.md")],
             ["report", "--out", str(blocker / "r.md")], ["diagnose", str(tmp / "missing")]]
    for config in ("init='normal(-1)'", "steps=2.5", "batch_size=2.5", "seed=-1", "hidden_units=200000"):
        scenario.write_text("from core.schema.config import RunConfig\nfrom core.schema.scenario import Scenario\n"
                            f"SCENARIO = Scenario(name='bad', title='t', symptom='s', diagnosis='d', config=RunConfig({config}))\n")
        path = tmp / f"bad_{len(cases)}.py"
        shutil.copy(scenario, path)
        cases.append(["run", str(path)])
    for body in ("import sys\nsys.exit(3)\n", "raise KeyboardInterrupt\n"):
        path = tmp / f"broken_{len(cases)}.py"
        path.write_text(body)
        cases.append(["run", str(path)])
    survived = 0
    for case in cases:
        logs = tmp / f"logs-{uuid.uuid4().hex[:6]}"
        err = io.StringIO()
        with redirect_stderr(err):
            try:
                code = main([*case, "--logdir", str(logs)] if case[0] != "diagnose" else case)
            except BaseException as error:  # noqa: BLE001 - counting what escapes is the point
                code = f"raised {type(error).__name__}"
        line = err.getvalue().strip()
        survived += code == 2 and line.startswith("tblab: ") and "\n" not in line and not logs.exists()
    return Row("bad CLI arguments and scenario files", len(cases), survived, note="one line, exit 2, no folder")


def board_signals(tmp: Path) -> Row:
    row = Row("tblab board: SIGINT, SIGTERM, SIGHUP, SIGKILL")
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGKILL):
        port = free_port()
        process = start("board", "--logdir", str(tmp), "--port", str(port))
        row.tried += 1
        if not wait_for_line(process, r"at http"):
            process.kill()
            continue
        below = descendants(process.pid)
        process.send_signal(sig)
        code = exit_code(process)
        left = left_after(below)
        row.left += len(left)
        expected = -9 if sig == signal.SIGKILL else 128 + sig  # 130 for Ctrl-C, as every command
        row.survived += code == expected and not left and not port_open(port)
    row.note = "TensorBoard + data server stopped, port freed (SIGKILL: via PR_SET_PDEATHSIG)"
    return row


def run_signals(tmp: Path) -> Row:
    from core.tensorboard.reader import read_run

    (tmp / "tiny.py").write_text(TINY.format(steps=1_000_000))
    row = Row("tblab run: SIGINT, SIGTERM, SIGHUP at step 200")
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        logs = tmp / f"run-{sig.name}"
        process = start("run", str(tmp / "tiny.py"), "--logdir", str(logs))
        row.tried += 1
        if not wait_for_line(process, r"^step 200:"):
            process.kill()
            continue
        below = descendants(process.pid)
        process.send_signal(sig)
        code = exit_code(process)
        left = left_after(below | {process.pid})
        row.left += len(left)
        folders = list((logs / "tiny").iterdir())
        readable = len(folders) == 1 and not read_run(folders[0]).warnings
        row.survived += code == 128 + sig and readable and not left
    row.note = "event files closed, read back with no warning"
    return row


def sweep_signals(tmp: Path) -> Row:
    scenarios = tmp / "scenarios"
    scenarios.mkdir(exist_ok=True)
    (scenarios / "tiny.py").write_text(TINY.format(steps=2000))
    row = Row("tblab sweep --jobs 2: Ctrl-C (group), SIGTERM, SIGHUP (group)")
    stop_times = []
    for sig, group in ((signal.SIGINT, True), (signal.SIGTERM, False), (signal.SIGHUP, True)):
        out = tmp / f"sweep-{sig.name}.md"
        process = start("sweep", "--jobs", "2", "--scenarios", str(scenarios), "--logdir", str(tmp / "sweep-logs"),
                        "--out", str(out), group=True)
        row.tried += 1
        if not wait_for_line(process, r"test accuracy"):
            process.kill()
            continue
        below = descendants(process.pid)
        sent = time.monotonic()
        os.killpg(process.pid, sig) if group else process.send_signal(sig)
        _, stderr = process.communicate(timeout=120)
        stop_times.append(time.monotonic() - sent)
        left = left_after(below)
        row.left += len(left)
        table = out.read_text() if out.exists() else ""
        row.survived += process.returncode == 128 + sig and not left and "| tiny" in table and "Traceback" not in stderr
    row.note = f"stopped {min(stop_times):.1f}-{max(stop_times):.1f} s after the signal; finished rows written" if stop_times else ""
    return row


def concurrency(tmp: Path, n: int = 4) -> Row:
    from core.tensorboard.reader import read_run

    logs = tmp / "together"
    processes = [start("run", "baseline", "--steps", "20", "--logdir", str(logs)) for _ in range(n)]
    codes = [p.wait(600) for p in processes]
    folders = sorted((logs / "baseline").iterdir()) if (logs / "baseline").is_dir() else []
    clean = [f for f in folders if len(list((f / "train").glob("events.out.tfevents.*"))) == 1 and not read_run(f).warnings]
    seconds = {f.name[:15] for f in folders}
    return Row(f"{n} runs started together, one log root", n, min(len(clean), n) if codes == [0] * n else 0,
               note=f"{len(folders)} folders, started within {len(seconds)} distinct second(s)")


def lab_signals(tmp: Path) -> Row:
    row = Row("lab after `t`: SIGTERM, SIGHUP (tmux)")
    if shutil.which("tmux") is None:
        row.note = "skipped: no tmux"
        return row
    for sig in (signal.SIGTERM, signal.SIGHUP):
        session = f"tblab-bench-{uuid.uuid4().hex[:8]}"
        command = (f"cd {ROOT} && env -u LINES -u COLUMNS TBLAB_NO_DOWNLOAD=1 {sys.executable} -m tui.cli "
                   f"--logdir {tmp / 'lab-logs'}; echo LAB-EXITED $?; sleep 60")
        tmux = lambda *a: subprocess.run(["tmux", *a], capture_output=True, text=True, check=False).stdout
        tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "34", command)
        row.tried += 1
        try:
            if not _screen(tmux, session, r"space Start") or not (tmux("send-keys", "-t", session, "t") or True) \
                    or not _screen(tmux, session, r"TensorBoard http://127"):
                continue
            below = descendants(int(tmux("display", "-p", "-t", session, "#{pane_pid}").strip()))
            (lab,) = children_of(int(tmux("display", "-p", "-t", session, "#{pane_pid}").strip()))
            os.kill(lab, sig)
            screen = _screen(tmux, session, r"LAB-EXITED \d+")
            flags = tmux("display", "-p", "-t", session, "#{alternate_on} #{mouse_any_flag}").split()
            left = left_after(below)
            row.left += len(left)
            row.survived += f"LAB-EXITED {128 + sig}" in screen and flags == ["0", "0"] and not left
        finally:
            tmux("kill-session", "-t", session)
    row.note = "terminal restored (main screen, mouse off), TensorBoard stopped"
    return row


def _screen(tmux, session: str, pattern: str, timeout: float = 180) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        screen = tmux("capture-pane", "-p", "-t", session)
        if re.search(pattern, screen):
            return screen
        time.sleep(0.2)
    return ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory", action="store_true", help="also the 200k-step headless run (about 4 minutes)")
    parser.add_argument("--only", action="append", default=[], help="only these measures, by function name (repeatable)")
    args = parser.parse_args()
    from bench.reliability_hostile import MEASURES as HOSTILE

    hostile = [lambda tmp, m=m: m(tmp, ENV, Row) for m in HOSTILE]
    for wrapper, measure in zip(hostile, HOSTILE):
        wrapper.__name__ = measure.__name__
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tblab-reliability-") as tmp_name:
        tmp = Path(tmp_name)
        rows = []
        measures = (damaged_logs, bad_configs, bad_arguments, board_signals, run_signals, sweep_signals, concurrency,
                    lab_signals, *hostile)
        for measure in (m for m in measures if not args.only or m.__name__ in args.only):
            folder = tmp / measure.__name__
            folder.mkdir()
            rows.append(measure(folder))
            print(f"  {rows[-1].what}: {rows[-1].survived}/{rows[-1].tried}", file=sys.stderr, flush=True)
    print("| inputs | tried | survived | processes left | bytes outside the log root | note |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row.what} | {row.tried} | {row.survived} | {row.left} | {row.outside} | {row.note} |")
    tried, survived, left, outside = (sum(getattr(r, k) for r in rows) for k in ("tried", "survived", "left", "outside"))
    print(f"| **total** | **{tried}** | **{survived}** | **{left}** | **{outside}** | {time.monotonic() - started:.0f} s |")
    if args.memory:
        print()
        subprocess.run([sys.executable, str(ROOT / "bench" / "memory_long_run.py")], cwd=ROOT, check=False)
    return 0 if survived == tried and left == 0 and outside == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
