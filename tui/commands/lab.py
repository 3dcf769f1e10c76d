"""`tblab lab` (and `tblab` with no arguments): the interactive lab."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

LAB_LOG = "tblab-lab.log"  # in the log root: TensorFlow's C++ lines and failed runs' tracebacks

from core.system.rundir import write_problem
from tui.commands import count_problem, file_problem, folder_problem


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("lab", help="the interactive lab: pick a failing script, toggle fixes, watch it train")
    p.add_argument("files", type=Path, nargs="*",
                   help="your own training scripts (or scenario files) to list first; a script is watched, unmodified")
    p.add_argument("--scenarios", type=Path, action="append", default=[],
                   help="another folder of scenario scripts, listed after the built-in ones (repeatable)")
    p.add_argument("--logdir", type=Path, default=Path("logs"),
                   help=f"TensorBoard log root (default: logs); TensorFlow's own messages go to LOGDIR/{LAB_LOG}")
    p.add_argument("--data", help="a Keras mnist.npz or a folder of the four IDX files (default: the best found)")
    p.add_argument("--steps", type=int, help="train every scenario for this many steps (default: its own)")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.data is not None and not Path(args.data).expanduser().exists():
        print(f"tblab: --data {args.data}: no such file or folder", file=sys.stderr)
        return 2
    problem = next((p for f in args.files if (p := file_problem(f))), "") or next(
        (p for folder in args.scenarios if (p := folder_problem(folder, "--scenarios"))), "")
    if problem:
        print(f"tblab: {problem}", file=sys.stderr)
        return 2
    if problem := count_problem(args, "steps"):
        print(f"tblab: {problem}", file=sys.stderr)
        return 2
    if not (sys.stdin.isatty() and sys.__stderr__.isatty()):
        print("tblab: the lab needs a terminal; for a headless run use `tblab run SCENARIO`", file=sys.stderr)
        return 2
    log_file = args.logdir / LAB_LOG
    try:
        args.logdir.mkdir(parents=True, exist_ok=True)
        log_file.touch()
    except OSError as error:
        print(f"tblab: cannot write to {args.logdir}: {write_problem(args.logdir, error)}", file=sys.stderr)
        return 2

    from core.system.tfquiet import stderr_fd_to_file
    from tui.app import make_app

    app = make_app(args.scenarios, files=args.files, log_root=args.logdir, data_path=args.data, steps=args.steps)
    _quit_on_signals(app)
    with stderr_fd_to_file(log_file, keep_python_stderr=True):
        try:
            app.run()
        finally:
            app.shutdown_background()
            finished = app.wait_for_training(timeout=0.5)
            if not finished:  # the training thread stops at its next step; say why the prompt is late
                print("tblab: stopping training and closing its event files…", file=sys.stderr)
                finished = app.wait_for_training()
    if not finished:
        print("tblab: training did not stop in time; its event files may be incomplete", file=sys.stderr)
    return app.return_code or 0


def _quit_on_signals(app) -> None:
    """SIGTERM / SIGHUP quit the lab as `q` does: the app restores the terminal (main screen,
    mouse tracking off) and the caller stops training and TensorBoard. A second signal, or
    one outside the app's loop, raises Terminated at once."""
    from core.system.children import Terminated

    def quit_app(signum, frame) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise Terminated(signum) from None
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, _raise_terminated)
        loop.call_soon_threadsafe(lambda: app.exit(return_code=128 + signum))

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, quit_app)


def _raise_terminated(signum, frame) -> None:
    from core.system.children import Terminated

    raise Terminated(signum)
