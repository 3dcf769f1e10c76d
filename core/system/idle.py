"""IdleWatchdog: calls `on_idle` once when nothing has `poke`d it for `timeout` seconds.

For a producer that may go quiet for ever (a watched script that never reaches a training
step, or stops training and serves): the consumer pokes on every step, and the watchdog,
a daemon thread, tells it once the silence has lasted too long. `on_idle` runs on the
watchdog's thread, so it must be safe to call from any thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class IdleWatchdog:
    def __init__(self, timeout: float | None, on_idle: Callable[[float], None]):
        self.timeout, self.on_idle = timeout, on_idle
        self.fired = False
        self._last = time.monotonic()
        self._done = threading.Event()
        if timeout:  # None or 0: never
            threading.Thread(target=self._watch, daemon=True, name="tblab-idle").start()

    def poke(self) -> None:
        self._last = time.monotonic()

    def close(self) -> None:
        self._done.set()

    def _watch(self) -> None:
        while not self._done.wait(min(1.0, self.timeout / 4)):
            idle = time.monotonic() - self._last
            if idle >= self.timeout:
                self.fired = True
                self.on_idle(idle)
                return
