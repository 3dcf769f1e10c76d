"""Fixes: named, pure changes of a RunConfig, each with the reason a learner is shown.

Every fix is offered for every scenario; a scenario names the ones expected to
repair it. Fixes are applied in the order of FIXES whatever order they were
asked in, so `--fix init --fix activation` gives He init for the new ReLU net.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal, get_args

from core.schema.config import RunConfig
from core.schema.units import initializer_for

# Every fix's name, in the order fixes are applied.
FixName = Literal["activation", "init", "normalize", "lr_down", "lr_up", "logits", "no_noise", "depth", "shuffle_labels_off"]
FIX_NAMES: tuple[FixName, ...] = get_args(FixName)


def check_fix_names(names: Iterable[str], owner: str) -> tuple[FixName, ...]:
    """`names` as a tuple, each a FixName; otherwise ValueError naming `owner` and the first unknown one."""
    names = tuple(names)
    unknown = [name for name in names if name not in FIX_NAMES]
    if unknown:
        raise ValueError(f"{owner}: unknown fix {unknown[0]!r}; known: {', '.join(FIX_NAMES)}")
    return names


@dataclass(frozen=True)
class Fix:
    name: FixName
    key: str  # the lab's single key
    label: str
    reason: str
    apply: Callable[[RunConfig], RunConfig]


def _init(config: RunConfig) -> RunConfig:
    return config.replace(init=initializer_for(config.activation), bias_init=0.0)


FIXES: dict[str, Fix] = {
    fix.name: fix
    for fix in (
        Fix("activation", "a", "ReLU activation",
            "ReLU passes gradients through unsaturated, so deep nets keep learning",
            lambda c: c.replace(activation="relu")),
        Fix("init", "i", "He/Glorot init",
            "scale weights to the layer width (He for ReLU, Glorot for sigmoid/tanh) so signals keep their size layer to layer",
            _init),
        Fix("normalize", "n", "standardise inputs",
            "zero-mean, unit-variance inputs keep the first layer's pre-activations in a sane range",
            lambda c: c.replace(normalization="standard")),
        Fix("lr_down", "l", "learning rate / 10",
            "smaller steps stop the loss from overshooting and blowing up",
            lambda c: c.replace(learning_rate=c.learning_rate / 10)),
        Fix("lr_up", "L", "learning rate x 10",
            "larger steps speed up a run that barely moves",
            lambda c: c.replace(learning_rate=c.learning_rate * 10)),
        Fix("logits", "s", "raw logits to the loss",
            "the loss applies softmax itself; feeding it probabilities squashes the logits into [0, 1] and puts a floor under the loss",
            lambda c: c.replace(softmax_before_loss=False)),
        Fix("no_noise", "o", "input noise off",
            "noise far larger than the signal drowns the digits the model must learn from",
            lambda c: c.replace(input_noise_std=0.0)),
        Fix("depth", "d", "2 hidden layers",
            "a shallower net has fewer layers to multiply small or large factors through",
            lambda c: c.replace(hidden_layers=2)),
        Fix("shuffle_labels_off", "b", "labels matched to images",
            "labels shuffled apart from their images carry no signal to learn",
            lambda c: c.replace(shuffle_labels=False)),
    )
}
assert tuple(FIXES) == FIX_NAMES, "FIXES and FixName disagree"


def apply_fixes(config: RunConfig, names: Iterable[str]) -> RunConfig:
    """Apply the named fixes in canonical order; unknown names raise ValueError."""
    wanted = set(names)
    unknown = wanted - FIXES.keys()
    if unknown:
        raise ValueError(f"unknown fix {sorted(unknown)[0]!r}; known: {', '.join(FIXES)}")
    for name, fix in FIXES.items():
        if name in wanted:
            config = fix.apply(config)
    return config
