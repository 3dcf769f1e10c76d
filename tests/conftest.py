"""Shared test set-up: quiet TensorFlow before anything imports it, and keep it on few threads.

`make test` runs the suite on two pytest-xdist workers, a test file per worker at a time
(`--dist loadfile`: a file's module fixtures and run caches are computed once). Tests that
time something against the wall clock are marked `quiet`: while one runs, the other worker
starts nothing (see machine_share). Without xdist all of this is a no-op.
"""

import fcntl
import os
import signal
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TBLAB_NO_DOWNLOAD", "1")  # CI has no network; never wait for one

# A suite started in the background (`make test &` in a script) inherits SIGINT ignored, and so
# would every tblab process the tests start: the Ctrl-C tests need it delivered.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# The costliest files first (measured with --durations), so that the two workers end together
# instead of one starting a long file when the other is done. Files not named keep their order after.
COSTLIEST_FIRST = (
    "test_watch_fingerprints.py", "test_fingerprints.py", "test_reliability_hostile.py", "test_watch.py",
    "test_handin.py", "test_tui_learner.py", "test_tui_tmux.py", "test_reliability_signals.py", "test_tui_app.py",
    "test_tui_watch.py", "test_reliability_paths.py", "test_doctor.py", "test_train.py", "test_experiments.py",
)


def pytest_collection_modifyitems(config, items):
    if not _under_xdist():
        return
    rank = {name: position for position, name in enumerate(COSTLIEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the order inside a file stays


def _under_xdist() -> bool:
    return "PYTEST_XDIST_WORKER" in os.environ


class _MachineShare:
    """A readers-writer lock between the workers of one run, on two lock files: every test
    holds `machine` shared, a quiet test holds it alone. A quiet test first closes the
    `turnstile`, so the other worker cannot start test after test and keep it waiting."""

    def __init__(self, folder: Path):
        folder.mkdir(exist_ok=True)
        self.turnstile = open(folder / "turnstile.lock", "a")
        self.machine = open(folder / "machine.lock", "a")
        self.alone = False

    def shared(self) -> None:
        fcntl.flock(self.turnstile, fcntl.LOCK_SH)
        fcntl.flock(self.machine, fcntl.LOCK_SH)
        fcntl.flock(self.turnstile, fcntl.LOCK_UN)

    def exclusive(self) -> None:
        fcntl.flock(self.turnstile, fcntl.LOCK_EX)
        fcntl.flock(self.machine, fcntl.LOCK_EX)
        self.alone = True

    def release(self) -> None:
        fcntl.flock(self.machine, fcntl.LOCK_UN)
        if self.alone:
            fcntl.flock(self.turnstile, fcntl.LOCK_UN)
            self.alone = False


_share: _MachineShare | None = None


def _is_quiet(item) -> bool:
    return item is not None and item.get_closest_marker("quiet") is not None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """Around a test's whole protocol (its module fixtures' set-up and tear-down included):
    the machine shared, or alone for a quiet test; kept alone across consecutive quiet tests."""
    global _share
    if not _under_xdist():
        yield
        return
    if _share is None:
        # One folder per run, named by the id its workers share.
        _share = _MachineShare(Path(tempfile.gettempdir()) / f"tblab-tests-{os.environ['PYTEST_XDIST_TESTRUNUID']}")
    quiet = _is_quiet(item)
    if quiet and not _share.alone:
        _share.exclusive()
    elif not quiet:
        _share.shared()
    try:
        yield
    finally:
        if not (quiet and _is_quiet(nextitem)):
            _share.release()
