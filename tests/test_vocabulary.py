"""One vocabulary: tag names, activation families, margins and fix names are defined in
core/schema, and both producers (a scenario run, a watched script) measure with them."""

from __future__ import annotations

import ast

import re
import textwrap
from pathlib import Path

import pytest

from core.schema import tags
from core.schema.fixes import FIX_NAMES, FIXES, check_fix_names
from core.schema.units import RELU_LIKE, SATURATING, initializer_for, unit_fraction_tag

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("core", "tui", "fails", "bench")
# Programs that are not tblab, writing other people's logs (issue 21's student styles and the
# metamorphic suite's naming grammar): the tags they spell are the foreign logs' own.
FOREIGN = (("bench", "foreign_logs"), ("bench", "metamorphic_rewrite.py"))


def _tag_prefixes() -> list[str]:
    """Every first word of a tblab tag: `grad_norm` of grad_norm/dense_1/kernel, `input` of input/min."""
    spelled = [value for name, value in vars(tags).items() if name.isupper() and isinstance(value, str)]
    firsts = {value.split("/")[0] for value in spelled if "/" in value}
    return sorted(firsts | set(tags.LAYERED) | {tags.WEIGHTS, tags.GRADIENTS, tags.ACTIVATIONS, tags.LOGITS})


def _docstrings(tree: ast.AST) -> set[int]:
    """id() of every docstring constant (they may name tags in prose)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                found.add(id(first.value))
    return found


def tag_literals(root: Path = ROOT) -> list[str]:
    """String constants (f-string parts included, docstrings not) outside core/schema that
    spell a tblab tag or a tag's `<prefix>/`: `"grad_norm/global"`, `f"weights/{name}"`."""
    pattern = re.compile(r"^(?:%s)/" % "|".join(map(re.escape, _tag_prefixes())))
    hits = []
    for top in SOURCES:
        for path in sorted((root / top).rglob("*.py")):
            relative = path.relative_to(root)
            if relative.parts[:2] == ("core", "schema") or relative.parts[:2] in FOREIGN:
                continue
            tree = ast.parse(path.read_text())
            skip = _docstrings(tree)
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
                    if pattern.match(node.value):
                        hits.append(f"{relative}:{node.lineno}: {node.value!r}")
    return hits


def test_no_tag_string_is_spelled_outside_core_schema():
    assert "grad_norm" in _tag_prefixes() and "loss_input" in _tag_prefixes()
    assert tag_literals() == []


def test_the_literal_check_catches_a_spelled_tag(tmp_path):
    """The check above could fail: a module that spells a tag is found."""
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "bad.py").write_text('"""Mentions dead_fraction/dense_1 in prose."""\nX = f"dead_fraction/{1}"\n')
    assert tag_literals(tmp_path) == ["core/bad.py:2: 'dead_fraction/'"]


def test_both_producers_import_the_vocabulary_from_core_schema():
    import grimp

    graph = grimp.build_graph("core")
    for producer in ("core.train", "core.watch"):
        imported = {
            module for importer in graph.find_descendants(producer) | {producer}
            for module in graph.find_modules_directly_imported_by(importer)
        }
        assert {"core.schema.tags", "core.schema.units", "core.schema.unit_measures"} <= imported, producer


def test_activation_families_and_init_formulas_are_defined_once():
    assert RELU_LIKE == ("relu", "leaky_relu") and SATURATING == ("sigmoid", "tanh")
    assert unit_fraction_tag("leaky_relu", "dense_1") == "dead_fraction/dense_1"
    assert unit_fraction_tag("tanh", "dense_2") == "saturated_fraction/dense_2"
    assert unit_fraction_tag("linear", "dense_1") is None
    assert [initializer_for(kind) for kind in ("relu", "leaky_relu", "linear", "sigmoid", "tanh")] == ["he"] * 3 + ["glorot"] * 2


def test_fix_names_are_one_literal_that_scenarios_and_verdicts_check():
    from core.doctor.findings import Verdict
    from core.schema.config import RunConfig
    from core.schema.scenario import Scenario

    assert tuple(FIXES) == FIX_NAMES
    assert check_fix_names(["init", "logits"], "x") == ("init", "logits")
    with pytest.raises(ValueError, match="scenario s: unknown fix 'inti'"):
        Scenario("s", "t", "symptom", "diagnosis", RunConfig(), expected_fixes=("inti",))
    good = dict(severity="warning", step=0, layers=(), evidence="e", explanation="x", confidence=0.5)
    assert Verdict(fixes=("init",), **good).fixes == ("init",)
    with pytest.raises(ValueError, match="verdict: unknown fix 'relu'"):
        Verdict(fixes=("relu",), **good)
    with pytest.raises(ValueError, match="unknown fix 'x'"):
        Verdict(fixes=("init",), repair=("x",), **good)


# The same net as a scenario and as a watched script: the script builds it with tblab's own
# model code and trains on the scenario's first batches, so step 0 sees the same weights
# and inputs, and the two producers' measures must agree.
SAME_NET = textwrap.dedent('''
    import tensorflow as tf
    from core.data.mnist import load_mnist
    from core.data.pipeline import make_datasets
    from core.schema.config import RunConfig
    from core.train.model import build

    config = RunConfig.from_json({config!r})
    data = make_datasets(config, load_mnist())
    layers = build(config)
    variables = [v for layer in layers for v in (layer.kernel, layer.bias)]
    act = getattr(tf.nn, config.activation)
    for step, indices in zip(range(3), data.train_indices):
        x, y = tf.gather(data.x_train, indices), tf.gather(data.y_train, indices)
        with tf.GradientTape() as tape:
            h = x
            for layer in layers[:-1]:
                h = act(tf.matmul(h, layer.kernel) + layer.bias)
            logits = tf.matmul(h, layers[-1].kernel) + layers[-1].bias
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        for v, g in zip(variables, tape.gradient(loss, variables)):
            v.assign_sub(config.learning_rate * g)
''')


# Nets with many dead or saturated units; the two producers must agree on them.
@pytest.mark.parametrize("changes, prefix", [
    ({"activation": "leaky_relu", "init": "uniform(-0.1,0)"}, tags.DEAD_FRACTION),  # watch once counted relu only
    ({"activation": "relu", "init": "uniform(-0.1,0)"}, tags.DEAD_FRACTION),
    ({"activation": "sigmoid", "init": "normal(1.0)"}, tags.SATURATED_FRACTION),
])
def test_a_scenario_run_and_the_same_net_watched_measure_the_same_units(tmp_path, changes, prefix):
    from core.data.mnist import load_mnist
    from core.runs.watch import WatchRequest
    from core.runs.watch_headless import watch
    from core.schema.config import RunConfig
    from core.train.loop import train

    config = RunConfig(hidden_layers=2, hidden_units=32, steps=1, eval_every=1, **changes)
    scenario = train(config, data=load_mnist()).history
    script = tmp_path / "same_net.py"
    script.write_text(SAME_NET.format(config=config.to_json()))
    watched = watch(WatchRequest(script, (), 1), tmp_path / "logs", say=lambda text: None).history
    # Layer by layer in position: the watched run's layers carry the script's (Keras') names.
    assert len(scenario.layers()) == len(watched.layers()) == 3, watched.layers()
    for own, theirs in zip(("dense_1", "dense_2"), watched.layers()[:2]):
        tag, watched_tag = tags.layer_tag(prefix, own), tags.layer_tag(prefix, theirs)
        assert tag in scenario.train and watched_tag in watched.train, (watched_tag, sorted(watched.train))
        # One unit's share apart at most: a unit a rounding away from the boundary may count
        # differently in graph and eager matmuls; counting another family's units would not.
        assert abs(watched.series(watched_tag).values[0] - scenario.series(tag).values[0]) <= 1 / config.hidden_units + 1e-9, tag
    # the nets are chosen so that the measure is far from 0: a family left uncounted would show
    assert max(scenario.series(tags.layer_tag(prefix, layer)).values[0] for layer in ("dense_1", "dense_2")) > 0.25
