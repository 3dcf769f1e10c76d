"""A script's variables as tblab's layers: grouped by creation order and rank.

A rank-2 variable (a kernel) starts a layer; the rank-1 variables after it (biases) join
it. Layers are named dense_1 ... and `output` for the last, as in tblab's own runs, so
the doctor's per-layer rules apply; the script's own names are kept alongside.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.schema.tags import BIAS, KERNEL, OUTPUT_LAYER, hidden_layer


@dataclass(frozen=True)
class Layout:
    variables: tuple  # in layer order
    names: tuple[str, ...]  # tag names: dense_1/kernel, dense_1/bias, ..., output/kernel
    layers: tuple[str, ...]  # dense_1, ..., output
    first_kernel: object | None
    output_kernel: object | None
    output_bias: object | None

    @property
    def hidden_layers(self) -> tuple[str, ...]:
        return self.layers[:-1]


def _rank(var) -> int:
    return len(var.shape)


def make_layout(variables: list, creation_index: dict[int, int]) -> Layout:
    """Layers from the variables a gradient was taken for; `creation_index` maps id(var)
    to the order the script created it in (variables not in it keep their given order)."""
    order = sorted(range(len(variables)), key=lambda i: (creation_index.get(id(variables[i]), 1 << 40), i))
    ordered = [variables[i] for i in order]
    groups: list[list] = []
    for var in ordered:
        if _rank(var) >= 2 or not groups:
            groups.append([var])
        else:
            groups[-1].append(var)
    layer_names = [hidden_layer(i) for i in range(1, len(groups))] + [OUTPUT_LAYER]
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


def script_names(variables, namespace: dict) -> dict[int, str]:
    """id(var) -> the script's own name for it: a global (W1) or an item of a global list
    (weights[0]); variables it has no name for are left out."""
    wanted = {id(v) for v in variables}
    found: dict[int, str] = {}
    for key, value in list(namespace.items()):
        if key.startswith("__"):
            continue
        if id(value) in wanted:
            found.setdefault(id(value), key)
        elif isinstance(value, (list, tuple)) and len(value) < 10_000:
            for index, item in enumerate(value):
                if id(item) in wanted and id(item) not in found:
                    found[id(item)] = f"{key}[{index}]"
    return found
