"""A script's variables as tblab's layers: grouped by creation order and rank, named as the
script names them.

A rank-2 variable (a kernel) starts a layer; the rank-1 variables after it (biases) join
it. A layer is named after its kernel's own name (`w0`, `W1`, `weights_2` for `weights[2]`,
a Keras layer's `dense_1`; see `own_names`), made safe as a tag component; tblab's names
(dense_1 ... and `output` for the last) stand in for a kernel with no usable name or with
the same name as another's. The layout says which layer is the output one, so the doctor's
per-layer rules apply whatever the names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.schema.tags import BIAS, GRAD_NORM_GLOBAL, KERNEL, OUTPUT_LAYER, hidden_layer
from core.system.names import tag_component

# Layer names a script's variable may not take: `global` is grad_norm/global's, `first_layer`
# the reader's name for a layer known only as the first (core/tensorboard/layers.py).
RESERVED_LAYER_NAMES = frozenset({GRAD_NORM_GLOBAL.split("/")[1], "first_layer"})
# TensorFlow's default variable names (tf.Variable(x) is `Variable:0`, then `Variable_1:0`): no name.
_DEFAULT_VARIABLE_NAME = re.compile(r"Variable(_\d+)?")
# A Keras variable's own part of its path (`sequential/dense_1/kernel`): its layer names it.
_KERAS_WEIGHTS = frozenset({KERNEL, BIAS, "gamma", "beta", "embeddings"})


@dataclass(frozen=True)
class Layout:
    variables: tuple  # in layer order
    names: tuple[str, ...]  # tag names: w0/kernel, w0/bias, ..., wout/kernel (or dense_1/kernel, ..., output/kernel)
    layers: tuple[str, ...]  # input side first: the script's names (w0, ..., wout), else dense_1, ..., output
    first_kernel: object | None
    output_kernel: object | None
    output_bias: object | None

    @property
    def hidden_layers(self) -> tuple[str, ...]:
        return self.layers[:-1]


def _rank(var) -> int:
    return len(var.shape)


def make_layout(variables: list, creation_index: dict[int, int], own: dict[int, str] | None = None) -> Layout:
    """Layers from the variables a gradient was taken for; `creation_index` maps id(var)
    to the order the script created it in (variables not in it keep their given order),
    `own` id(var) to the script's own name for it (`own_names`)."""
    order = sorted(range(len(variables)), key=lambda i: (creation_index.get(id(variables[i]), 1 << 40), i))
    ordered = [variables[i] for i in order]
    groups: list[list] = []
    for var in ordered:
        if _rank(var) >= 2 or not groups:
            groups.append([var])
        else:
            groups[-1].append(var)
    layer_names = name_layers([(own or {}).get(id(group[0]), "") for group in groups])
    names, flat = [], []
    for layer, group in zip(layer_names, groups):
        kernels = biases = 0
        for var in group:
            if _rank(var) >= 2:
                kernels += 1
                part = KERNEL if kernels == 1 else f"{KERNEL}_{kernels}"
            else:
                biases += 1
                part = BIAS if biases == 1 else f"{BIAS}_{biases}"
            names.append(f"{layer}/{part}")
            flat.append(var)
    kernels = [g[0] for g in groups if _rank(g[0]) >= 2]
    last = groups[-1] if groups else []
    return Layout(
        variables=tuple(flat),
        names=tuple(names),
        layers=tuple(layer_names),
        first_kernel=kernels[0] if kernels else None,
        output_kernel=last[0] if last and _rank(last[0]) >= 2 else None,
        output_bias=next((v for v in last[1:] if _rank(v) == 1), None),
    )


def name_layers(wanted: list[str]) -> list[str]:
    """One name per layer (input side first) from its kernel's own name: kept when it is a
    safe tag component that no other layer wants, else tblab's (dense_<i>, output), with a
    suffix in the rare case that one is a script's name too. Unique and stable."""
    safe = [tag_component(name) for name in wanted]
    last = len(safe) - 1
    kept = [name if name and safe.count(name) == 1 and name not in RESERVED_LAYER_NAMES
            and (name != OUTPUT_LAYER or index == last) else "" for index, name in enumerate(safe)]
    taken = {name for name in kept if name}
    names = []
    for index, name in enumerate(kept):
        if not name:
            name = base = hidden_layer(index + 1) if index < last else OUTPUT_LAYER
            suffix = 2
            while name in taken:
                name, suffix = f"{base}_tblab{suffix}", suffix + 1
            taken.add(name)
        names.append(name)
    return names


def script_names(variables, namespace: dict, items: bool = True) -> dict[int, str]:
    """id(var) -> the script's own name for it: a global (W1) or, with `items`, an item of a
    global list (weights[0]); variables it has no name for are left out."""
    wanted = {id(v) for v in variables}
    found: dict[int, str] = {}
    for key, value in list(namespace.items()):
        if key.startswith("__"):
            continue
        if id(value) in wanted:
            found.setdefault(id(value), key)
        elif items and isinstance(value, (list, tuple)) and len(value) < 10_000:
            for index, item in enumerate(value):
                if id(item) in wanted and id(item) not in found:
                    found[id(item)] = f"{key}[{index}]"
    return found


def variable_name(var) -> str:
    """A variable's name from TensorFlow or Keras, '' when it has none of its own: a
    tf.Variable's `name=` without `:0` (`w0`), a Keras variable's layer (`dense_1`)."""
    path = str(getattr(var, "path", None) or getattr(var, "name", None) or "")
    parts = [part for part in path.split(":")[0].split("/") if part]
    if len(parts) >= 2 and parts[-1] in _KERAS_WEIGHTS:
        return parts[-2]
    if not parts or _DEFAULT_VARIABLE_NAME.fullmatch(parts[-1]) or parts[-1] in _KERAS_WEIGHTS:
        return ""
    return parts[-1]


def own_names(variables, namespace: dict) -> dict[int, str]:
    """id(var) -> the name the script gave it, best first: a global bound to it (`w0`), the
    name it was created with (`tf.Variable(..., name="w0")`, a Keras layer's `dense_1`), an
    item of a global list (`weights[0]`). Variables with none are left out."""
    bound = script_names(variables, namespace, items=False)
    listed = script_names(variables, namespace)
    found = {}
    for var in variables:
        name = bound.get(id(var)) or variable_name(var) or listed.get(id(var))
        if name:
            found[id(var)] = name
    return found
