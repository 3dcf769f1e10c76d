"""Layer facts recovered from a foreign log's tags and values, by meaning rather than by name.

Pure functions (no TensorFlow, no files) that core/tensorboard/reader.py applies after
reading: which layers a log has and in what order (numbers in names, then first
appearance), which is the output layer, which unnamed histogram is a kernel and which a
bias (bucket counts add up to the tensor's size: a layer's kernel is larger than its
bias; a bias `b0` belongs to the kernel `w0`'s layer), and Keras' per-epoch running means
turned back into per-batch values.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter

from core.schema.tags import (
    ACTIVATIONS,
    BIAS,
    GRAD_NORM,
    GRADIENTS,
    KERNEL,
    LAYERED,
    UPDATE_RATIO,
    WEIGHT_NORM,
    WEIGHTS,
    layer_tag,
)
from core.tensorboard.vocabulary import OWN_VARIABLE

# Families of per-layer tags: prefix/<layer>[/kernel|/bias].
LAYER_FAMILIES = (*LAYERED, WEIGHTS, GRADIENTS, ACTIVATIONS)
KERNEL_FAMILIES = (GRAD_NORM, WEIGHT_NORM, UPDATE_RATIO, WEIGHTS, GRADIENTS)
FIRST_LAYER = "first_layer"  # a layer known only as the first (a lone `weights` histogram)
_LAST_NUMBER = re.compile(r"(\d+)(?!.*\d)")
_LAYER_KEY = re.compile(r"^([A-Za-z]*)[_\-]?(\d+)")


def layer_of(tag: str) -> tuple[str, str] | None:
    """(family, layer) of a per-layer tag like grad_norm/layer_0/kernel or activations/h1."""
    parts = tag.split("/")
    if len(parts) < 2 or parts[0] not in LAYER_FAMILIES or parts[1] == "global":
        return None
    return parts[0], parts[1]


def numbered_order(tags: list[str]) -> list[str]:
    """Layer names input side first: by the last number in the name, then by first appearance."""
    first_seen: dict[str, int] = {}
    for tag in tags:
        found = layer_of(tag)
        if found and found[1] not in first_seen:
            first_seen[found[1]] = len(first_seen)

    def key(name: str) -> tuple[float, int]:
        if name == FIRST_LAYER:
            return (-math.inf, 0)
        match = _LAST_NUMBER.search(name)
        if match is None and any(re.fullmatch(re.escape(name) + r"[_\-]?\d+", other) for other in first_seen):
            return (-1, first_seen[name])  # Keras names dense, dense_1, dense_2: the unnumbered one is first
        return (int(match[1]) if match else math.inf, first_seen[name])

    return sorted(first_seen, key=key)


def output_layers(tags: list[str], order: list[str]) -> list[str]:
    """The last layer of each family that holds kernels: the output layer, in logs whose layers
    are not called `output` (a family logged for every trainable variable reaches the output)."""
    rank = {name: index for index, name in enumerate(order)}
    members: dict[str, set[str]] = {}
    for tag in tags:
        found = layer_of(tag)
        if found and found[0] in KERNEL_FAMILIES and tag.endswith(f"/{KERNEL}"):
            members.setdefault(found[0], set()).add(found[1])
    # A family with one layer says nothing about which layer is the output.
    last = {max(layers, key=lambda name: rank.get(name, -1)) for layers in members.values() if len(layers) >= 2}
    return sorted(last, key=lambda name: rank.get(name, 0))


def paired_by_name(tags: list[str]) -> set[str]:
    """The tags that share their layer key with exactly one other (`layer1`, `layer1_offset`)."""
    groups: dict[str, list[str]] = {}
    for tag in tags:
        match = _LAYER_KEY.match(tag)
        if match:
            groups.setdefault(f"{match[1]}{match[2]}", []).append(tag)
    return {tag for members in groups.values() if len(members) == 2 for tag in members}


def name_by_size(counts: dict[str, float], singles: bool = True, blank: frozenset[str] = frozenset()) -> dict[str, str]:
    """{tag: weights/<layer>/kernel or .../bias} for histograms named by a layer only.

    Tags that share a layer key (`layer1`, `layer1_offset`, `fc2`, `fc2_b`) are one layer's
    tensors: the larger is the kernel, the smaller the bias. When no layer has two, each
    numbered tag is taken as its layer's kernel (notebooks often log kernels only), if singles,
    except the blank ones: a histogram all at 0 says nothing of what it holds (a zero kernel, or a
    dead layer's outputs), so its name alone does not make it a kernel.
    """
    groups: dict[str, list[str]] = {}
    for tag in counts:
        match = _LAYER_KEY.match(tag)
        if match:
            groups.setdefault(f"{match[1]}{match[2]}", []).append(tag)
    pairs = {key: tags for key, tags in groups.items() if len(tags) == 2}
    names = {}
    if pairs:
        for tags in pairs.values():
            kernel, bias = sorted(tags, key=lambda tag: -counts[tag])
            if counts[kernel] <= counts[bias]:
                continue  # same size: cannot tell
            layer = min(tags, key=len)
            names[kernel], names[bias] = layer_tag(WEIGHTS, layer, KERNEL), layer_tag(WEIGHTS, layer, BIAS)
    elif singles and groups and all(len(tags) == 1 for tags in groups.values()) and len(groups) >= 2:
        for tags in groups.values():
            if tags[0] not in blank:
                names[tags[0]] = layer_tag(WEIGHTS, tags[0], KERNEL)
    return names


def steps_per_epoch(epoch_ends: list[int]) -> int | None:
    """Batches per epoch from the iterations at which epochs ended (Keras counts batches from 1)."""
    if not epoch_ends:
        return None
    gaps = [b - a for a, b in itertools.pairwise(epoch_ends) if b > a]
    period = Counter(gaps).most_common(1)[0][0] if gaps else epoch_ends[0]
    return period if period > 0 and epoch_ends[0] % period == 0 else None


def deaverage_running_means(steps: list[int], values: list[float], period: int) -> list[float]:
    """Per-batch values from running means that restart every `period` batches.

    Keras logs m_k, the mean of batches 1..k of the epoch, at global batch s (1-based;
    k = s - period * floor((s - 1) / period)). The batches between two logged positions
    j < k average (k * m_k - j * m_j) / (k - j); with a value logged every batch that is
    x_k = k * m_k - (k - 1) * m_(k-1).
    """
    out = []
    epoch, position, mean = None, 0, 0.0
    for step, value in zip(steps, values):
        this_epoch = (step - 1) // period
        k = step - this_epoch * period
        if this_epoch != epoch or k <= position:
            epoch, position, mean = this_epoch, 0, 0.0
        out.append((k * value - position * mean) / (k - position))
        position, mean = k, value
    return out


def bias_beside_kernel(layers: list[str]) -> dict[str, str]:
    """{bias variable's layer: kernel variable's layer} for hand-named variables that pair by
    their number or position (`b0` -> `w0`, `bout` -> `wout`, `bias_2` -> `W_2`): a bias belongs
    to its kernel's layer, so it is never taken for a layer of its own."""
    kernels: dict[str, list[str]] = {}
    biases: dict[str, list[str]] = {}
    for layer in layers:
        match = OWN_VARIABLE.match(layer)
        if match:
            side = biases if match[1].lower().startswith("b") else kernels
            side.setdefault(match[2].lower(), []).append(layer)
    pairs = {}
    for key, named in biases.items():
        if len(named) == 1 and len(kernels.get(key, ())) == 1:
            pairs[named[0]] = kernels[key][0]
    return pairs
