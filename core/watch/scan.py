"""Read a user's training script without running it: its style (custom GradientTape loop or
Keras fit), what it uses, and which of tblab's fixes can apply to it and why not.

A fix that cannot apply must say so before the run starts, so this is decided from the
source text alone (an AST walk: no import, no TensorFlow).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from core.schema.units import SATURATING

CUSTOM_LOOP = "custom loop"
KERAS_FIT = "keras fit"
UNKNOWN = "unknown"
RANDOM_CALLS = ("normal", "uniform", "randn", "rand", "truncated_normal")


class ScanError(Exception):
    """The script cannot be read or parsed; the message is one line (with the line number)."""


@dataclass(frozen=True)
class FixPlan:
    applies: bool
    how: str  # what the fix does to this script, or why it cannot


@dataclass(frozen=True)
class ScriptScan:
    style: str
    activations: frozenset[str]  # relu / sigmoid / tanh / softmax named anywhere in the script
    uses_optimizer: bool  # a Keras/optimizer object updates the weights (not var.assign_sub)
    uses_dataset: bool
    adds_noise: bool  # random numbers drawn in a loop or function (not as initial weights)
    logits_loss: bool  # a loss that takes logits (..._with_logits or from_logits=True)

    @property
    def initializer(self) -> str:
        return "glorot" if self.activations & set(SATURATING) else "he"


def _name(node: ast.AST) -> str:
    """The dotted name of a call's function (tf.nn.relu -> 'tf.nn.relu'), '' when not a name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


class _Walker(ast.NodeVisitor):
    def __init__(self):
        self.calls: list[str] = []
        self.strings: set[str] = set()
        self.keywords: set[tuple[str, object]] = set()
        self.noise = False
        self._loop_or_def = 0
        self._in_variable = 0

    def _nested(self, node):
        self._loop_or_def += 1
        self.generic_visit(node)
        self._loop_or_def -= 1

    visit_For = visit_While = visit_FunctionDef = visit_Lambda = _nested

    def visit_Call(self, node: ast.Call):
        name = _name(node.func)
        self.calls.append(name)
        for keyword in node.keywords:
            if isinstance(keyword.value, ast.Constant):
                self.keywords.add((keyword.arg, keyword.value.value))
        last = name.rsplit(".", 1)[-1]
        if last in RANDOM_CALLS and "random" in name and self._loop_or_def and not self._in_variable:
            self.noise = True
        is_variable = last == "Variable"
        self._in_variable += is_variable
        self.generic_visit(node)
        self._in_variable -= is_variable

    def visit_Constant(self, node: ast.Constant):
        if isinstance(node.value, str):
            self.strings.add(node.value.lower())


def scan_source(source: str, filename: str = "<script>") -> ScriptScan:
    try:
        tree = ast.parse(source, filename)
    except SyntaxError as error:
        raise ScanError(f"{filename}, line {error.lineno}: syntax error: {error.msg}") from None
    walker = _Walker()
    walker.visit(tree)
    calls = walker.calls
    last_parts = {name.rsplit(".", 1)[-1] for name in calls}
    style = KERAS_FIT if "fit" in last_parts else CUSTOM_LOOP if "GradientTape" in last_parts else UNKNOWN
    named = {part for name in calls for part in name.split(".")} | walker.strings
    activations = frozenset(a for a in ("relu", "sigmoid", "tanh", "softmax") if a in named)
    return ScriptScan(
        style=style,
        activations=activations,
        uses_optimizer=style == KERAS_FIT or bool({"apply_gradients", "minimize"} & last_parts)
        or any(".optimizers." in f".{name}." for name in calls),
        uses_dataset=any("data.Dataset" in name or name.startswith("Dataset.") for name in calls),
        adds_noise=walker.noise,
        logits_loss=any(name.endswith("_with_logits") for name in calls) or ("from_logits", True) in walker.keywords,
    )


def scan_script(path: str | Path) -> ScriptScan:
    path = Path(path)
    try:
        source = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise ScanError(f"{path}: cannot read: {getattr(error, 'strerror', None) or error}") from None
    return scan_source(source, str(path))


def plan_fixes(scan: ScriptScan) -> dict[str, FixPlan]:
    """For every tblab fix: whether it can apply to this script, and how (or why not)."""
    custom, keras = scan.style == CUSTOM_LOOP, scan.style == KERAS_FIT
    known = custom or keras
    no_style = FixPlan(False, "the script calls neither tf.GradientTape nor Keras fit")
    saturating = scan.activations & set(SATURATING)
    lr_how = (
        "scales the optimizer's learning rate" if scan.uses_optimizer
        else "scales the gradients the script's hand-written update (var.assign_sub(lr * grad)) uses"
    )
    plans = {
        "activation": FixPlan(True, "tf.nn.sigmoid / tf.nn.tanh (and Keras sigmoid / tanh) become ReLU")
        if saturating else FixPlan(False, "the script uses no sigmoid or tanh"),
        "init": FixPlan(True, f"kernels re-initialised {'Glorot' if scan.initializer == 'glorot' else 'He'} "
                        "before the first update, biases zero") if known else no_style,
        "normalize": FixPlan(True, "the first layer sees its input standardised (mean and std of the first batch)")
        if custom else FixPlan(False, "tblab cannot reach a Keras model's first layer input; standardise x in the script")
        if keras else no_style,
        "lr_down": FixPlan(True, f"/ 10: {lr_how}") if known else no_style,
        "lr_up": FixPlan(True, f"x 10: {lr_how}") if known else no_style,
        "logits": FixPlan(True, "a loss handed probabilities gets their logarithm (exact: softmax(log p) = p)")
        if scan.logits_loss and "softmax" in scan.activations
        else FixPlan(False, "the script never hands softmax probabilities to a loss that takes logits"),
        "no_noise": FixPlan(True, "the first layer sees the clean batch the tf.data pipeline produced")
        if custom and scan.uses_dataset and scan.adds_noise
        else FixPlan(False, "the script adds no random noise to the batches of a tf.data pipeline in its loop"),
        "depth": FixPlan(False, "the script builds its own layers: tblab cannot add or remove them"),
        "shuffle_labels_off": FixPlan(False, "tblab cannot see how the script pairs labels with images"),
    }
    return plans
