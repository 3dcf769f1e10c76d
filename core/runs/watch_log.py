"""WatchLog: the TensorBoard side of a watched script, shared by `tblab watch` and the lab.

The event files are opened at the first record, so the data source and the config the
script reported before training are in the run's text summary; the doctor's History
gets the same facts."""

from __future__ import annotations

from pathlib import Path

from core.runs.watch import ConfigSeen, DataServed, Started
from core.schema.facts import RunFacts
from core.schema.history import History


class WatchLog:
    def __init__(self, logdir: Path, facts: RunFacts, history: History, on_failure=None):
        self.logdir, self.facts, self.history = logdir, facts, history
        self.on_failure = on_failure  # called once if the event files stop taking writes (a full disk)
        self._sink = None

    def note(self, event) -> None:
        """Keep what a Started / DataServed / ConfigSeen event tells about the run."""
        if isinstance(event, DataServed):
            self.facts = self.facts.but(data_source=event.source)
            self.history.facts = self.history.facts.but(data_source=event.source)
        elif isinstance(event, ConfigSeen):
            self.facts = self.facts.but(config=dict(event.config))
            self.history.facts = self.history.facts.but(config=dict(event.config))
        elif isinstance(event, Started):
            self.facts = self.facts.but(variables=dict(event.names), loop=event.style)

    @property
    def sink(self):
        """The run's TensorBoardSink, opened on first use."""
        if self._sink is None:
            from core.system.rundir import prepare_logdir
            from core.tensorboard.sink import TensorBoardSink

            self._sink = TensorBoardSink(prepare_logdir(self.logdir), self.facts, on_failure=self.on_failure)
        return self._sink

    def close(self) -> None:
        if self._sink is not None:
            self._sink.close()
