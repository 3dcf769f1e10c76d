"""One event stream: a scenario run and a watched script both emit RunStarted, Step, Eval,
Snapshot, Output and Ended (core/schema/events.py), and consume() is the one place that
hands them to sinks."""

from __future__ import annotations

import re
from pathlib import Path

from core.schema.events import Ended, Eval, Output, RunStarted, Step, consume
from core.schema.facts import RunFacts
from core.schema.history import Snapshot, StepRecord

ROOT = Path(__file__).resolve().parent.parent


class Kinds:
    """A sink that notes the kind of every event it is handed."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def on_started(self, event):
        self.seen.append("started")

    def on_step(self, event):
        self.seen.append("step")

    def on_eval(self, event):
        self.seen.append("eval")

    def on_snapshot(self, event):
        self.seen.append("snapshot")

    def on_output(self, event):
        self.seen.append(f"output:{event.stream}")

    def on_ended(self, event):
        self.seen.append(f"ended:{event.reason}")


def test_consume_hands_each_kind_to_the_sinks_that_take_it_and_returns_what_the_stream_returns():
    class StepsOnly:
        def __init__(self):
            self.steps = []

        def on_step(self, event):
            self.steps.append(event.record.step)

    def stream():
        yield RunStarted(RunFacts(run="r"))
        yield Output("hello")
        yield Step(StepRecord(0, {"loss": 1.0}))
        yield Snapshot(0, {})
        yield Eval(0, {"loss": 1.0})
        yield Ended("finished", 1)
        return "result"

    kinds, steps = Kinds(), StepsOnly()
    assert consume(stream(), [kinds, steps]) == "result"
    assert kinds.seen == ["started", "output:stdout", "step", "snapshot", "eval", "ended:finished"]
    assert steps.steps == [0]
    assert consume([Ended("stopped", 0)], [steps]) is None


def test_a_scenario_run_is_one_stream_from_run_started_to_ended():
    from core.data.mnist import load_mnist
    from core.schema.config import RunConfig
    from core.train.loop import run_events

    config = RunConfig(hidden_layers=1, hidden_units=16, steps=5, eval_every=2, histogram_every=4)
    kinds = Kinds()
    result = consume(run_events(config, data=load_mnist(), run_name="tiny"), [kinds])
    assert kinds.seen[0] == "started" and kinds.seen[-1] == "ended:finished"
    assert kinds.seen.count("step") == result.steps_done == 5
    assert kinds.seen.count("eval") == 3  # steps 0, 2, 4
    assert kinds.seen.count("snapshot") == 2  # steps 0 and 4
    assert result.history.facts.config == config.to_dict() and result.history.facts.loop == "tblab"


def test_a_watched_script_is_the_same_stream_its_facts_known_at_run_started(tmp_path):
    from core.runs.watch import WatchedScript, WatchRequest

    script = ROOT / "examples" / "baseline.py"
    run = WatchedScript(WatchRequest(script, (), 3), run_name="mine")
    kinds, started = Kinds(), []

    class Facts:
        def on_started(self, event):
            started.append(event.facts)

    try:
        consume(run.start(), [kinds, Facts()])
    finally:
        run.stop()
    records = [kind for kind in kinds.seen if not kind.startswith("output")]
    assert records[0] == "started" and records[-1] == "ended:finished" and records.count("step") == 3
    (facts,) = started
    assert facts.run == "mine" and facts.loop == "custom loop" and facts.script == str(script)
    assert facts.variables["W1/kernel"] == "W1" and facts.data_source
    assert facts.layer_order == ("W1", "W2", "W3") and facts.output_layers == ("W3",)  # known before the first step


def test_sinks_are_wired_in_one_place():
    """No module hands events to sinks by an isinstance chain: consume() does it."""
    chain = re.compile(r"isinstance\(\w+, \(?(RunStarted|Step|Eval|Snapshot|Ended)\b")
    found = [f"{path.relative_to(ROOT)}:{number}" for top in ("core", "tui") for path in sorted((ROOT / top).rglob("*.py"))
             for number, line in enumerate(path.read_text().splitlines(), 1) if chain.search(line)]
    assert found == []
