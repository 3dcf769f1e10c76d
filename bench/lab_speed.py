"""The lab's cost: steps/s inside the lab vs the same run headless, and launch-to-first-frame time.

(a) headless: `tblab run NAME --steps N --json` (training, event files, live doctor);
(b) the lab: `tblab lab --steps N` in a real terminal (tmux, 120x34), the same scenario
    started with one key; its steps/s is training's own steady-state measure, which the
    status line shows when the run ends.
Interleaved rounds, medians. Then `tblab` is launched on a pseudo-terminal and timed until
its first frame (the scenario list) is drawn. Key-to-screen latency: with a run going, Down
and Up are pressed in turn and timed until the info pane shows the newly selected scenario,
on the machine as it is and with a busy process on every core (the aim: 0.2 s); the load
average printed beside each says whether "as it is" was quiet. Optionally writes an SVG of
the lab mid-run.

    python bench/lab_speed.py [--rounds 3] [--steps 1500] [--scenarios baseline fail2] [--svg PATH]
    python bench/lab_speed.py --only-keys --keys 10      # the latency figures alone
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pty
import re
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TBLAB = str(Path(sys.executable).parent / "tblab")
# PYTHONPATH: the children run this checkout's code, not whichever one the venv's `tblab` was installed from.
ENV = {k: v for k, v in os.environ.items() if k not in ("LINES", "COLUMNS")} | {"PYTHONPATH": str(ROOT)}


def headless(scenario: str, steps: int, logdir: Path) -> float:
    out = subprocess.run(
        [TBLAB, "run", scenario, "--steps", str(steps), "--logdir", str(logdir), "--json"],
        capture_output=True, text=True, check=True, cwd=ROOT, env=ENV,
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1])["steps_per_second"])


def in_lab(scenario: str, steps: int, logdir: Path) -> float:
    from core.schema.scenario import discover

    loaded = [r.scenario for r in discover() if r.scenario is not None]
    names = [sc.name for sc in loaded]
    title = loaded[names.index(scenario)].title
    session = f"tblab-bench-{uuid.uuid4().hex[:8]}"
    # PYTHONPATH in the command itself: a tmux server that is already running gives new
    # sessions its own environment, not this process's.
    command = f"cd {ROOT} && PYTHONPATH={ROOT} {TBLAB} lab --steps {steps} --logdir {logdir}; sleep 30"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "34", command], check=True, env=ENV)
    try:
        screen = _wait(session, r"space Start", 60)
        for _ in range(names.index(scenario)):
            subprocess.run(["tmux", "send-keys", "-t", session, "Down"], check=True)
        _wait(session, re.escape(title[:18]), 30)  # the info panel shows the chosen scenario (it wraps the title)
        subprocess.run(["tmux", "send-keys", "-t", session, "Space"], check=True)
        screen = _wait(session, rf"{scenario} finished │ \S+ {steps}/{steps} │ (\d+) steps/s", 1800)
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True)
        return float(re.search(r"finished │ \S+ \d+/\d+ │ (\d+) steps/s", screen)[1])
    finally:
        time.sleep(1)
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


def _wait(session: str, pattern: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout
        if re.search(pattern, screen):
            return screen
        time.sleep(0.25)
    raise TimeoutError(f"{pattern!r} not on screen after {timeout} s:\n{screen}")


def key_latencies(keys: int, logdir: Path, loaded: bool) -> list[float]:
    """Seconds from a key to its effect on screen, `keys` times, during a baseline run."""
    sys.path.insert(0, str(ROOT))
    from tests.helpers import key_to_screen_seconds, start_cpu_burners, stop_cpu_burners

    session = f"tblab-bench-{uuid.uuid4().hex[:8]}"
    command = f"cd {ROOT} && PYTHONPATH={ROOT} {TBLAB} lab --steps 10000000 --logdir {logdir}; sleep 30"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "34", command], check=True, env=ENV)
    burners = []
    try:
        _wait(session, r"space Start", 60)
        subprocess.run(["tmux", "send-keys", "-t", session, "Space"], check=True)
        _wait(session, r"baseline running │ \S+ ([5-9]\d|\d{3,})/", 300)
        if loaded:
            burners = start_cpu_burners(seconds=60 + 10 * keys)  # bounded: they stop themselves
            time.sleep(2)
        seconds = []
        for index in range(keys):
            key, shows = ("Down", r"fail1: ") if index % 2 == 0 else ("Up", r"Baseline: a 2-layer")
            seconds.append(key_to_screen_seconds(session, key, shows))
            time.sleep(0.3)  # keys a learner types, not a burst
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True)
        return seconds
    finally:
        stop_cpu_burners(burners)
        time.sleep(1)
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


def print_latencies(keys: int, logdir: Path) -> None:
    """The latency with a run going, on the machine as it is and with a busy process per core; the
    load average before each says whether "as it is" was quiet (other programs count there)."""
    for label, loaded in (("as is", False), ("loaded (+ a busy process per core)", True)):
        load = os.getloadavg()[0]
        seconds = key_latencies(keys, logdir, loaded)
        print(f"key to screen, {label}: median {statistics.median(seconds):.3f} s, max {max(seconds):.3f} s "
              f"over {len(seconds)} keys (aim <= 0.2 s); load average before: {load:.1f} on "
              f"{os.cpu_count()} cores{' (busy: not a quiet figure)' if load > 0.5 * (os.cpu_count() or 1) else ''}",
              flush=True)


def first_frame_seconds(cwd: Path) -> float:
    """Launch `tblab` on a pty sized 120x34; seconds until the scenario list is on screen."""
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 34, 120, 0, 0))
    started = time.perf_counter()
    process = subprocess.Popen([TBLAB], stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=ENV, start_new_session=True)
    os.close(slave)
    seen = b""
    try:
        while b"scenarios" not in seen:
            ready, _, _ = select.select([master], [], [], 10)
            if not ready:
                raise TimeoutError("no first frame within 10 s")
            seen += os.read(master, 65536)
        elapsed = time.perf_counter() - started
        os.write(master, b"q")
        deadline = time.monotonic() + 30
        while process.poll() is None and time.monotonic() < deadline:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    os.read(master, 65536)  # keep the pty drained so the app can write its last frame
                except OSError:
                    break
        return elapsed
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)


async def screenshot(path: Path, steps: int) -> None:
    """fail2 as-is to the end, then with ReLU and He init, captured mid-run: before and after on one screen."""
    from core.system.tfquiet import import_tensorflow_quietly
    from tui.app import make_app

    import_tensorflow_quietly()  # this bench process has no lab terminal to keep TensorFlow's lines off
    logdir = Path(tempfile.mkdtemp(prefix="tblab-bench-svg-"))
    app = make_app(log_root=logdir, steps=steps, preload_tensorflow=False)
    names = [slot.name for slot in app.state.slots]
    async with app.run_test(size=(120, 34)) as pilot:
        for _ in range(names.index("fail2")):
            await pilot.press("down")
        await pilot.press("space")
        await _until(pilot, lambda: app.state.selected.current.state == "finished")
        await pilot.press("a", "i", "space")  # ReLU and He init: the pair that repairs 8 layers
        await _until(pilot, lambda: app.state.selected.current.last_step >= steps // 2)
        await pilot.pause(0.5)
        path.parent.mkdir(parents=True, exist_ok=True)
        app.save_screenshot(str(path))
        await pilot.press("q")
    app.wait_for_training()


async def _until(pilot, condition, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the lab did not get there")
        await pilot.pause(0.1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--scenarios", nargs="+", default=["baseline", "fail2"])
    parser.add_argument("--launches", type=int, default=5, help="first-frame timings")
    parser.add_argument("--svg", type=Path, help="also write an SVG of the lab mid-run here")
    parser.add_argument("--keys", type=int, default=20, help="keys timed for the key-to-screen latency")
    parser.add_argument("--only-keys", action="store_true", help="only the key-to-screen latency")
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        sys.exit("bench/lab_speed.py needs tmux")
    work = Path(tempfile.mkdtemp(prefix="tblab-bench-lab-"))
    print_latencies(args.keys, work / "logs")
    if args.only_keys:
        return

    frames = [first_frame_seconds(work) for _ in range(args.launches)]
    print(f"launch to first frame: median {statistics.median(frames):.2f} s, "
          f"max {max(frames):.2f} s over {len(frames)} launches (target <= 1 s)", flush=True)

    results: dict[str, dict[str, list[float]]] = {s: {"headless": [], "lab": []} for s in args.scenarios}
    for round_ in range(args.rounds):
        for scenario in args.scenarios:
            first, second = (("headless", headless), ("lab", in_lab))[:: 1 if round_ % 2 == 0 else -1]
            for label, run in (first, second):
                results[scenario][label].append(run(scenario, args.steps, work / "logs"))
            print(f"round {round_ + 1} {scenario}: headless {results[scenario]['headless'][-1]:.0f}, "
                  f"lab {results[scenario]['lab'][-1]:.0f} steps/s", flush=True)

    print(f"\n{args.steps} steps per run, {args.rounds} rounds, medians\n")
    print("| scenario | headless steps/s | lab steps/s | lab / headless | median of per-round ratios |\n|---|---|---|---|---|")
    for scenario, runs in results.items():
        h, lab = statistics.median(runs["headless"]), statistics.median(runs["lab"])
        paired = statistics.median(x / y for x, y in zip(runs["lab"], runs["headless"]))
        print(f"| {scenario} | {h:.0f} | {lab:.0f} | {lab / h:.2f} | {paired:.2f} (target >= 0.9) |")
    if args.svg:
        asyncio.run(screenshot(args.svg, steps=600))
        print(f"\nscreenshot: {args.svg}")


if __name__ == "__main__":
    main()
