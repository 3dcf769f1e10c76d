"""Small shared test helpers: a tiny MNIST-shaped set, so unit tests train in a second, and
reading a tmux screen for the tests that drive a real terminal."""

from __future__ import annotations

import re
import subprocess
import time

import numpy as np

from core.data.mnist import Mnist


def tiny_mnist(n_train: int = 512, n_test: int = 256, seed: int = 0) -> Mnist:
    """Random 'digits' whose label is written into a block of pixels, so a net can learn it."""
    rng = np.random.default_rng(seed)

    def make(n):
        y = rng.integers(0, 10, n).astype(np.int32)
        x = rng.integers(0, 64, (n, 784)).astype(np.uint8)
        for digit in range(10):
            x[y == digit, digit * 70 : digit * 70 + 60] = 255
        return x, y

    x_train, y_train = make(n_train)
    x_test, y_test = make(n_test)
    return Mnist(x_train, y_train, x_test, y_test, source="tiny synthetic test set")


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True).stdout


def wait_for_screen(session: str, pattern: str, timeout: float) -> str:
    """The tmux session's screen once `pattern` shows on it; fails with the screen after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        screen = tmux("capture-pane", "-p", "-t", session)
        if re.search(pattern, screen):
            return screen
        if time.monotonic() > deadline:
            raise AssertionError(f"{pattern!r} did not appear; the screen:\n{screen}")
        time.sleep(0.2)


def key_to_screen_seconds(session: str, key: str, pattern: str, timeout: float = 30.0) -> float:
    """Send one key to the tmux session; seconds until `pattern` is on its screen (polled tightly)."""
    started = time.monotonic()
    tmux("send-keys", "-t", session, key)
    while True:
        screen = tmux("capture-pane", "-p", "-t", session)
        if re.search(pattern, screen):
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"key {key!r}: {pattern!r} did not appear; the screen:\n{screen}")
        time.sleep(0.01)


def start_cpu_burners(seconds: float, count: int | None = None) -> list[subprocess.Popen]:
    """One busy process per core (or `count`), each stopping itself after `seconds`."""
    import os
    import sys

    code = f"import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end: pass\n"
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(count or os.cpu_count() or 1)]


def stop_cpu_burners(burners: list[subprocess.Popen]) -> None:
    for burner in burners:
        if burner.poll() is None:
            burner.kill()
        burner.wait()


def by_position(tags, own_layers: list[str], script_layers: list[str]) -> set[str]:
    """tblab's own tags (grad_norm/dense_1/kernel) with each layer renamed to the layer at the
    same position in a watched script's run (grad_norm/W1/kernel): the same net, named apart."""
    rename = dict(zip(own_layers, script_layers))
    renamed = set()
    for tag in tags:
        parts = tag.split("/")
        if len(parts) >= 2 and parts[1] in rename:
            parts[1] = rename[parts[1]]
        renamed.add("/".join(parts))
    return renamed
