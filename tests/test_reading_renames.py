"""Meaning-preserving renames (issue 21, item 6a, the reading side): real foreign logs from the
frozen fixture suite, rewritten under other naming conventions people use, must give the
doctor the same primary finding. Only tag names change; every value is the log's own."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.plugins.histogram import metadata as histogram_metadata
from tensorboard.util import tensor_util

from core.doctor import diagnose
from core.schema.history import History
from core.tensorboard.eventfile import EventFile
from core.tensorboard.layers import layer_of
from core.tensorboard.reader import read_run

FIXTURES = Path(__file__).parent / "fixtures" / "foreign_logs"
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text())["runs"]
# Hand-written loops and the TF1 tutorial (Keras' own tags carry Keras semantics: not renamed).
RUNS = sorted(name for name, run in MANIFEST.items() if not run["writer"].startswith("keras"))
_HISTOGRAM = histogram_metadata.create_summary_metadata(display_name=None, description=None)

# Conventions: whole-run tags, then a variable's kernel/bias names (i: its layer, last: output),
# its gradient-norm tag, its weight histogram tag, and an activation histogram's tag (by number,
# or by its variable's name where the log ties the two, as TF1 name scopes do).
GRAMMARS = {
    "tf_vname": {"loss": "loss", "accuracy": "accuracy", "test/loss": "test_loss", "test/accuracy": "test_accuracy",
                 "kernel": lambda i, last: "wout:0" if last else f"w{i}:0",
                 "bias": lambda i, last: "bout:0" if last else f"b{i}:0",
                 "grad": "gradients/{v}", "weights": "{v}", "act": "h{n}_activations", "layer_act": "activations/{v}",
                 "layer": lambda i, last: "wout" if last else f"w{i}"},
    "pytorch": {"loss": "Loss/train", "accuracy": "Accuracy/train", "test/loss": "Loss/test",
                "test/accuracy": "Accuracy/test",
                "kernel": lambda i, last: f"fc{i + 1}.weight", "bias": lambda i, last: f"fc{i + 1}.bias",
                "grad": "grad_norm/{v}", "weights": "{v}", "act": "Activations/layer{n}",
                "layer_act": "{v}.activations", "layer": lambda i, last: f"fc{i + 1}"},
    "keras_scoped": {"loss": "metrics/xent", "accuracy": "metrics/acc", "test/loss": "eval/xent",
                     "test/accuracy": "eval/acc",
                     "kernel": lambda i, last: f"sequential/dense{'_' + str(i) if i else ''}/kernel:0",
                     "bias": lambda i, last: f"sequential/dense{'_' + str(i) if i else ''}/bias:0",
                     "grad": "{v}/GradNorm", "weights": "weights/{v}", "act": "activations/hidden_{n}",
                     "layer_act": "sequential/{v}/activations",
                     "layer": lambda i, last: f"dense{'_' + str(i) if i else ''}"},
}


def _variable_layers(history: History) -> list[str]:
    order = history.facts.layer_order
    found = {layer_of(key)[1] for key in [*history.train, *history.histograms]
             if layer_of(key) and layer_of(key)[0] in ("grad_norm", "weights")}
    return [layer for layer in order if layer in found]


def _renamer(history: History, grammar: dict):
    layers = _variable_layers(history)
    acts = [layer_of(key)[1] for key in history.histograms if layer_of(key) and layer_of(key)[0] == "activations"]

    def variable(layer: str, part: str) -> str:
        index = layers.index(layer)
        return grammar[part](index, index == len(layers) - 1)

    def rename(key: str, test: bool = False) -> str:
        if test or key in ("loss", "accuracy"):
            return grammar.get(("test/" if test else "") + key, key)
        found = layer_of(key)
        if found is None or found[1] == "global":
            return key
        family, layer = found
        if family == "activations":
            if layer in layers:  # the log ties it to a variable's layer (TF1 scopes): keep the tie
                return grammar["layer_act"].format(v=variable(layer, "layer"))
            return grammar["act"].format(n=acts.index(layer) + 1)
        part = key.rsplit("/", 1)[-1]
        if layer not in layers or part not in ("kernel", "bias"):
            return key
        return grammar["grad" if family == "grad_norm" else "weights"].format(v=variable(layer, part))

    return rename


def write_renamed(history: History, folder: Path, grammar: dict) -> None:
    rename = _renamer(history, grammar)
    events = EventFile(folder)
    for test, section in ((False, history.train), (True, history.val)):
        for key, series in section.items():
            tag = rename(key, test)
            for step, value in zip(series.steps, series.values):
                summary = Summary(value=[Summary.Value(tag=tag, simple_value=value)])
                events.write(step, summary.SerializeToString())
    for key, snaps in history.histograms.items():
        tag = rename(key)
        for snap in snaps:
            buckets = np.stack([snap.edges[:-1], snap.edges[1:], snap.counts], axis=1)
            tensor = tensor_util.make_tensor_proto(buckets.astype(np.float64))
            summary = Summary(value=[Summary.Value(tag=tag, metadata=_HISTOGRAM, tensor=tensor)])
            events.write(snap.step, summary.SerializeToString())
    events.close()


@pytest.fixture(scope="module")
def originals():
    return {name: read_run(FIXTURES / name, name=name) for name in RUNS}


@pytest.mark.parametrize("grammar", sorted(GRAMMARS))
@pytest.mark.parametrize("name", RUNS)
def test_renamed_logs_get_the_same_primary_finding(originals, tmp_path, name, grammar):
    original = originals[name]
    write_renamed(original, tmp_path / "run", GRAMMARS[grammar])
    renamed = read_run(tmp_path / "run")
    before, after = diagnose(original).primary, diagnose(renamed).primary
    assert (after.id if after else None) == (before.id if before else None), (
        sorted(renamed.train), sorted(renamed.histograms), after.evidence if after else "")
