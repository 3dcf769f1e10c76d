"""The variable registry of a watched script: every variable it creates, in creation order,
and the layout (core/watch/layout.py) of the variables its gradient calls are taken for.

One model is recorded: the variables of the first gradient call (or the first Keras fit).
A script that trains another model too (a second net, a GAN's other half, one layer on its
own) has those steps counted, not recorded: one run's loss and tags are one model's.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import tensorflow as tf
from tensorflow.python.ops import gen_resource_variable_ops, resource_variable_ops

from core.watch.layout import Layout, make_layout, own_names, script_names


def read(variable):
    """A variable's value now: the bare read op for TensorFlow's resource variables (26 us for
    the baseline's six against 66 us through tf.convert_to_tensor), else the conversion."""
    if isinstance(variable, resource_variable_ops.BaseResourceVariable):
        return gen_resource_variable_ops.read_variable_op(variable.handle, variable.dtype)
    return tf.convert_to_tensor(variable)


class VariableRegistry:
    """Variables by creation order (a tf.variable_creator_scope creator), and the layout."""

    def __init__(self) -> None:
        self.order: dict[int, int] = {}  # id(variable) -> creation order
        self.created: list = []
        self.layout: Layout | None = None
        self.model: frozenset[int] | None = None  # ids of the recorded model's variables

    def creator(self, next_creator, **kwargs):
        var = next_creator(**kwargs)
        if id(var) not in self.order:
            self.order[id(var)] = len(self.order)
            self.created.append(var)
        return var

    def is_recorded_model(self, variables: list) -> bool:
        """Whether these are the recorded model's variables (the first ones claim it)."""
        ids = frozenset(id(v) for v in variables)
        if self.model is None:
            self.model = ids
        return ids == self.model

    def layout_for(self, variables: list, namespace: dict) -> tuple[Layout, bool]:
        """The layout of the variables a gradient was taken for, its layers named as the
        script (its globals: `namespace`) names their kernels, and whether it is new (the
        first call: the recorded model's variables are the same at every call after it)."""
        if self.layout is not None:
            return self.layout, False
        self.layout = make_layout(variables, self.order, own_names(variables, namespace))
        return self.layout, True

    def adopt(self, variables: list) -> Layout:
        """A Keras model's trainable variables, already in layer order, as the layout; its
        layers keep their Keras names."""
        self.layout = make_layout(variables, {}, own_names(variables, {}))
        return self.layout

    def names(self, namespace: dict) -> dict[str, str]:
        """Tag name (W1/kernel, W1/bias) -> the script's own name for the variable (W1, b1),
        else its Keras path or TensorFlow name."""
        layout = self.layout
        own = script_names(layout.variables, namespace)
        return {
            tag: own.get(id(v)) or getattr(v, "path", None) or getattr(v, "name", "?")  # Keras variables have a path
            for tag, v in zip(layout.names, layout.variables)
        }

    def read_all(self) -> list:
        """The layout's variables as they are now."""
        return [read(v) for v in self.layout.variables]


def names_in_scope(folder: Path, script_globals: dict) -> dict:
    """The names the script sees at this call: its globals, then the locals of its own frames
    on the stack (files in its folder), outermost first: a script that builds its net in
    main() names its variables there. A variable bound to two names keeps the first (the
    `w3` a script declared, not the loop variable `w` that holds it last)."""
    frames, frame = [], sys._getframe(1)
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    namespace = dict(script_globals)
    for frame in reversed(frames):
        if _in_folder(frame.f_code.co_filename, folder):
            for key, value in list(frame.f_locals.items()):
                namespace.setdefault(key, value)
    return namespace


@functools.lru_cache(maxsize=256)
def _in_folder(filename: str, folder: Path) -> bool:
    return filename.endswith(".py") and Path(filename).resolve().parent == folder
