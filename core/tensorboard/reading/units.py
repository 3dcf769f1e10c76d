"""Which histograms hold a layer's outputs, and of which layer, read from their sizes.

A variable's histogram counts its tensor's elements, the same at every snapshot: a kernel
fan_in x fan_out, a bias fan_out (its layer's units). A histogram of a layer's outputs counts
batch x units: it changes with the batch (an epoch's last, smaller batch), and it is no
variable's size. So an unnamed histogram (`Act1`, `hidden1`) whose count changes, or is k >= 2
times a layer's units and no variable's size, holds activations, even when all of it is 0 (dead
ReLUs, which a name-less reading would take for a zero-initialised weight). Activations are
matched to the variables' layers in order (the i-th hidden output is the i-th kernel's), the
units checked (count = batch x the kernel's fan-out, one batch for all); the match gives the
run's batch size, and the output layer's units give the number of classes.

Pure functions on names and counts (no TensorFlow, no History).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

_LAST_NUMBER = re.compile(r"(\d+)(?!.*\d)")


@dataclass(frozen=True)
class LayerSize:
    """One variable layer, input side first: its kernel's element count and its units (fan-out), when known."""

    layer: str
    kernel: int | None
    units: int | None


@dataclass(frozen=True)
class Matched:
    """Activation layer names -> variable layers, and the batch size the counts imply (None: unknown)."""

    layers: dict[str, str]
    batch: int | None


def layer_sizes(order: list[str], kernels: dict[str, int], biases: dict[str, int]) -> list[LayerSize]:
    """The sizes of the variable layers in `order`: units from the bias, else from the kernel
    over the previous layer's units (a kernel is fan_in x fan_out, fan_in the previous fan-out)."""
    sizes, previous = [], None
    for layer in order:
        kernel, units = kernels.get(layer), biases.get(layer)
        if units is None and kernel and previous and kernel % previous == 0:
            units = kernel // previous
        sizes.append(LayerSize(layer, kernel, units))
        previous = units
    return sizes


def holds_a_batch(counts: list[int], sizes: list[LayerSize]) -> bool:
    """An unnamed histogram's counts per snapshot are a batch's outputs, not a variable: they
    change, or they are k >= 2 times some layer's units and no variable's size."""
    if not counts:
        return False
    if len(set(counts)) > 1:
        return True
    count = counts[0]
    variable = {s.kernel for s in sizes} | {s.units for s in sizes}
    if count in variable:
        return False
    return any(s.units and count % s.units == 0 and count // s.units >= 2 for s in sizes)


def typical(counts: list[int]) -> int:
    """The count most snapshots have (an epoch's last batch is smaller)."""
    return Counter(counts).most_common(1)[0][0]


def match(activations: dict[str, int], sizes: list[LayerSize]) -> Matched:
    """{activation layer: variable layer} for activation layers (their typical count) that no
    variable layer is named after. All of them or none: the i-th (by the number in its name,
    then as given) is the i-th hidden layer's output when there are as many as hidden layers
    (or as layers); every match must leave one batch size (count / units) where the units are
    known. Numbers alone do not tell: people count activations from 1 (h1) and variables from 0 (w0)."""
    if not activations or not sizes:
        return Matched({}, None)
    ordered = sorted(activations, key=lambda name: (_number(name), list(activations).index(name)))
    hidden = sizes[:-1] if len(sizes) >= 2 else sizes
    if len(ordered) not in (len(hidden), len(sizes)):
        return Matched({}, None)  # some layers' outputs missing: which is which is not in the names (h1 is w0's)
    pairs = list(zip(ordered, hidden if len(ordered) == len(hidden) else sizes))
    batches = set()
    for name, size in pairs:
        if size.units:
            if activations[name] % size.units:
                return Matched({}, None)
            batches.add(activations[name] // size.units)
    if len(batches) > 1:
        return Matched({}, None)
    return Matched({name: size.layer for name, size in pairs}, batches.pop() if batches else None)


def output_units(sizes: list[LayerSize]) -> int | None:
    """The output layer's units (the number of classes), when the log shows at least two layers."""
    return sizes[-1].units if len(sizes) >= 2 and sizes[-1].units and sizes[-1].units >= 2 else None


def _number(name: str) -> float:
    found = _LAST_NUMBER.search(name)
    return int(found[1]) if found else float("inf")
