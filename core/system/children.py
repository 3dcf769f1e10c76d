"""Child processes this process owns: stopped with it, however it ends.

- `spawn` starts a child in its own process group (so stopping it stops its children too,
  e.g. TensorBoard's data server) and, on Linux, with PR_SET_PDEATHSIG: the kernel sends
  it SIGTERM when we die, even by SIGKILL or a segfault, so it never outlives us as an
  orphan of PID 1. The death signal follows the *thread* that forked the child, so every
  child is forked from one long-lived spawner thread, never from a short worker thread.
- `stop` / `stop_all` end a child's whole group: SIGTERM, then SIGKILL after a grace.
- `install_exit_handlers` makes SIGTERM and SIGHUP (a closed terminal, `tmux
  kill-session`) raise `Terminated`, a KeyboardInterrupt, so every command's Ctrl-C path
  (close event files, stop children, write what finished) also runs for them; and stops
  every owned child at exit.
- `spawn_python` starts an owned Python child that never imports from the working folder
  (`-P`, and a PYTHONPATH of absolute folders only: a learner's `numpy.py` next to where
  they typed the command is never run), and, once the child exits, stops what it left in
  its group after a short grace (a forked server or a `sleep 60` holding the child's pipes
  would otherwise keep its reader waiting).
- `guard_worker` is for pool workers (multiprocessing), which we do not fork ourselves:
  they set their own death signal and leave Ctrl-C and SIGHUP to the parent.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

PR_SET_PDEATHSIG = 1
STOP_GRACE_SECONDS = 3.0

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
LEFTOVER_GRACE_SECONDS = 1.0  # after the child exits, before its group's leftovers are stopped

# Runs in a tiny Python (isolated: nothing imported from the working folder) before exec'ing the real command: asks for SIGTERM at the parent's
# death, and gives up if the parent died before that request was made.
_GUARD = (
    "import ctypes,os,signal,sys\n"
    "try: ctypes.CDLL(None).prctl(1, signal.SIGTERM)\n"
    "except Exception: pass\n"
    "if os.getppid() != int(sys.argv[1]): os._exit(1)\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)

_owned: list[subprocess.Popen] = []
_owned_lock = threading.Lock()
_spawner = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="tblab-spawner")


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised in the main thread like Ctrl-C; `signum` says which."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def interruption(interrupt: KeyboardInterrupt) -> tuple[int, str]:
    """The exit code and words for a command ended by a signal, the same in every command:
    Ctrl-C is 130 "interrupted", SIGTERM 143 and SIGHUP 129 "stopped by SIGTERM / SIGHUP"."""
    signum = getattr(interrupt, "signum", signal.SIGINT)
    words = "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
    return 128 + signum, words


def spawn(command: list[str], **popen_kwargs) -> subprocess.Popen:
    """Start `command` as an owned child in a new process group (stdin from /dev/null unless given)."""
    popen_kwargs.setdefault("stdin", subprocess.DEVNULL)
    if sys.platform.startswith("linux"):
        command = [sys.executable, "-I", "-S", "-c", _GUARD, str(os.getpid()), *command]
    process = _spawner.submit(subprocess.Popen, command, start_new_session=True, **popen_kwargs).result()
    with _owned_lock:
        _owned[:] = [p for p in _owned if p.poll() is None] + [process]
    return process


def python_command(*args: str) -> list[str]:
    """This Python with `args` (`-m module ...`), never importing from the working folder."""
    return [sys.executable, "-P", *args]


def python_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """`env` (default: ours) with PYTHONPATH = the repository, then the caller's absolute
    entries: an empty or relative entry would put the working folder back on the path."""
    env = dict(os.environ if env is None else env)
    given = env.get("PYTHONPATH", "").split(os.pathsep)
    entries = [str(REPO_ROOT)] + [e for e in given if e and os.path.isabs(e) and e != str(REPO_ROOT)]
    env["PYTHONPATH"] = os.pathsep.join(entries)
    env.pop("PYTHONSTARTUP", None)
    return env


def piped_stdin() -> int | None:
    """Our stdin for a child when it is piped or a file (`echo 3 | tblab watch s.py`), else
    /dev/null: a terminal stays ours (the lab reads its keys from it)."""
    try:
        return subprocess.DEVNULL if os.isatty(0) else None
    except OSError:
        return subprocess.DEVNULL


def spawn_python(args: list[str], env: dict[str, str] | None = None, stop_leftovers: bool = True,
                 **popen_kwargs) -> subprocess.Popen:
    """Start `python -P ARGS` as an owned child (see `spawn`) with a safe import path.

    With `stop_leftovers`, once the child exits, whatever it left in its process group
    (forks, a server, a `sleep`) is stopped after LEFTOVER_GRACE_SECONDS, so pipes they
    inherited close and nobody waits for them."""
    process = spawn(python_command(*args), env=python_env(env), **popen_kwargs)
    if stop_leftovers:
        threading.Thread(target=_stop_leftovers, args=(process,), daemon=True, name="tblab-leftovers").start()
    return process


def _stop_leftovers(process: subprocess.Popen) -> None:
    process.wait()
    time.sleep(LEFTOVER_GRACE_SECONDS)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not _kill_group(process.pid, sig):
            return  # the group is empty
        time.sleep(LEFTOVER_GRACE_SECONDS)


def stop(process: subprocess.Popen, grace: float = STOP_GRACE_SECONDS) -> None:
    """Stop a child started by `spawn` and everything in its process group."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if process.poll() is not None:
            _kill_group(process.pid, signal.SIGKILL)  # grandchildren left in the group, if any
            return
        _kill_group(process.pid, sig)
        try:
            process.wait(grace)
            _kill_group(process.pid, signal.SIGKILL)
            return
        except subprocess.TimeoutExpired:
            continue


def stop_all() -> None:
    """Stop every child still running (at exit, on SIGTERM / SIGHUP)."""
    with _owned_lock:
        running, _owned[:] = [p for p in _owned if p.poll() is None], []
    for process in running:
        stop(process)


def owned() -> list[subprocess.Popen]:
    """The owned children still running."""
    with _owned_lock:
        return [p for p in _owned if p.poll() is None]


def _kill_group(pgid: int, sig: int) -> bool:
    """Signal the group; False when it has no process left (or none we may signal)."""
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def _raise_terminated(signum, frame) -> None:
    raise Terminated(signum)


def install_exit_handlers() -> None:
    """In the main thread: SIGTERM / SIGHUP raise Terminated; owned children stop at exit."""
    atexit.unregister(stop_all)  # once, however often it is called
    atexit.register(stop_all)
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_terminated)


def set_parent_death_signal(sig: int = signal.SIGTERM) -> None:
    """Linux: have the kernel send `sig` to this process when its parent dies."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(sig))
    except (OSError, AttributeError):
        pass


def guard_worker(parent_pid: int) -> None:
    """For a pool worker: die with the parent; Ctrl-C and SIGHUP are the parent's to handle
    (it cancels, stops and terminates workers), so the worker ignores them."""
    set_parent_death_signal(signal.SIGTERM)
    if os.getppid() != parent_pid:  # the parent died before the death signal was set
        os._exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
