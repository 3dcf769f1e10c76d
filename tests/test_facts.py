"""RunFacts: a run's facts are typed, written into its event files as text tags, and read
back from them as they were."""

from __future__ import annotations

import pytest

from core.schema.class_balance import ClassBalance
from core.schema.config import RunConfig
from core.schema.facts import CONFIG_TEXT, LAYERS_TEXT, VARIABLES_TEXT, RunFacts


def test_facts_round_trip_through_their_text_tags():
    facts = RunFacts(run="fail2", config=RunConfig(steps=3).to_dict(), data_source="mnist (sample)",
                     class_balance=ClassBalance((5, 6), (2, 3)), script="my.py", fixes=("init", "logits"),
                     variables={"W1/kernel": "W1"}, layer_order=("W1", "W3"), output_layers=("W3",))
    back = RunFacts()
    for tag, text in facts.texts().items():
        back = back.with_text(tag, text)
    assert back == facts
    assert RunFacts().texts() == {"run": ""}  # unknown facts are not written


def test_text_tags_that_do_not_parse_leave_the_fact_unknown():
    facts = RunFacts().with_text("config", "not json").with_text("class_balance", "[1, 2]").with_text("config", "[1]")
    assert facts.config == {} and facts.class_balance is None
    with pytest.raises(ValueError, match="no run fact"):
        RunFacts().with_text("style", "keras")
    with pytest.raises(AttributeError):
        facts.run = "x"  # frozen: change a fact with but()
    assert facts.but(run="x").run == "x" and facts.run == ""


def test_a_scenario_runs_facts_are_read_back_from_its_event_files(tmp_path):
    from core.data.mnist import load_mnist
    from core.runs.recipe import record_run
    from core.tensorboard.reader import read_run

    data = load_mnist()
    config = RunConfig(hidden_layers=1, hidden_units=16, steps=2, eval_every=1)
    live = record_run(config, data=data, logdir=tmp_path / "run", run_name="tiny").history.facts
    read = read_run(tmp_path / "run").facts
    assert live.config == read.config == config.to_dict()
    assert live.data_source == read.data_source == data.source
    assert live.class_balance == read.class_balance == ClassBalance.of(data.y_train, data.y_test)
    assert read.style == "tblab" and read.step_unit == "step" and "loss" in read.raw_tags


@pytest.mark.parametrize("text", ["[" * 100000, '{"a": ' * 5000, "x" * (2 << 20)])
def test_a_crafted_fact_text_leaves_the_fact_unknown_and_never_raises(text):
    facts = RunFacts()
    for tag in (VARIABLES_TEXT, CONFIG_TEXT, LAYERS_TEXT):
        read = facts.with_text(tag, text)
        assert read.config == {} and read.variables == {} and read.layer_order == ()


@pytest.mark.parametrize("text", ['{"order": ["w0"], "outputs": ["wout"]}', '{"order": "w0", "outputs": []}',
                                  '{"order": [1, 2], "outputs": [2]}', "[]"])
def test_stated_layers_whose_output_is_not_among_them_are_not_believed(text):
    assert RunFacts().with_text(LAYERS_TEXT, text).layer_order == ()
