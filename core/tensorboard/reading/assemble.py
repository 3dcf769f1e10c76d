"""Assemble one History from the raw values of a run's two halves: each tag placed under the
name its meaning gives it (core/tensorboard/tag_styles.py), histograms decoded, and the layer
facts a foreign log implies (order, output layer, kernel or bias) recovered into History.facts (core/schema/facts.py):

  layer_order, output_layers   the layers, input side first, and which is the output one
  model                        the model's own config, when Keras' callback wrote it
                               (core/tensorboard/model_config.py)
  deaveraged / running_means   Keras' batch_* running means turned back into per-batch values,
                               or (epoch length unknown) left as running means
  nonfinite_histograms         {tag: first step} of histograms dropped for holding NaN/Inf
  reading                      the Reading: which tag fills which role (core/schema/reading.py)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from core.schema.history import HistogramSnapshot, History, Series
from core.schema.tags import ACTIVATIONS, BIAS, INPUT_STATS, LOGITS, OUTPUT_LAYER, layer_tag
from core.tensorboard import tag_styles
from core.tensorboard.layers import (
    KERNEL_FAMILIES,
    bias_beside_kernel,
    layer_of,
    name_by_size,
    numbered_order,
    output_layers,
    paired_by_name,
)
from core.tensorboard.reading import keras, layer_outputs, texts
from core.tensorboard.reading.content import (
    ALL_AT_ZERO,
    activation_shape,
    histogram_stats,
    names_inputs,
    names_model_output,
    share_at_zero,
)
from core.tensorboard.reading.decode import RawHalf, RawHistogram, decode_histogram
from core.tensorboard.reading.roles import BY_CONTENT, BY_NAME, BY_USER, BY_WORDS, TEST, Reading, Role, is_role, move_role
from core.tensorboard.reading.scalars import add_roles_by_content, add_scalars


@dataclass(frozen=True)
class _Style:
    """How a run's tags are read: its style, and for Keras whether steps are iterations."""

    style: str
    per_batch: bool  # Keras logged batch_* values: epoch-stepped values move to iterations
    marks: list[tuple[float, int]]  # (wall time, iteration) to place those epoch values
    max_histograms: int | None


def build_history(name: str, halves: dict[str, RawHalf], max_histograms: int | None,
                  overrides: Mapping[str, str] | None = None) -> History:
    history = History(run=name)
    overrides = dict(overrides or {})
    for raw in halves.values():
        history.warnings.extend(raw.warnings)
    train, val = halves[tag_styles.TRAIN], halves[tag_styles.VAL]
    scalar_tags = set(train.scalars) | set(val.scalars)
    histogram_tags = set(train.histograms) | set(val.histograms)
    text_tags = set(train.texts) | set(val.texts)
    style = tag_styles.detect_style(scalar_tags, histogram_tags, text_tags)
    per_batch = style == tag_styles.KERAS and tag_styles.keras_per_batch(set(train.scalars))
    how = _Style(style, per_batch, keras.iteration_marks(halves) if per_batch else [], max_histograms)
    roles: list[Role] = []
    # The train half's histograms first: a test-set writer that logs the same histograms (TF1's
    # mnist_with_summaries evaluates its merged summary on the test set) only fills gaps.
    for half in (tag_styles.TRAIN, tag_styles.VAL):
        _add_histograms(history, halves[half], how, roles, overrides, gaps_only=half == tag_styles.VAL)
    add_scalars(history, halves, style, per_batch, how.marks, roles, overrides)
    for raw in halves.values():
        texts.add_texts(history, raw.texts)
    if per_batch:
        keras.deaverage_batches(history, how.marks, train)
    _input_stats_from_histogram(history, roles)
    _activations_by_content(history, roles)  # before sizes: a ReLU layer's outputs are no kernel
    _put_biases_beside_kernels(history, roles)
    layer_outputs.activations_by_size(history, roles)  # all-zero outputs (dead ReLUs) are no kernel either
    _name_layers_by_size(history, roles)
    layer_outputs.match_activations(history, roles)
    add_roles_by_content(history, roles, layer_outputs.classes_shown(history))
    epoch_only = style == tag_styles.KERAS and not per_batch and any(t.startswith("epoch_") for t in scalar_tags)
    all_tags = scalar_tags | histogram_tags | text_tags | train.other_tags | val.other_tags
    history.facts = history.facts.but(style=style, step_unit="epoch" if epoch_only else "step",
                                      raw_tags=tuple(sorted(all_tags)))
    _add_reading(history, roles)
    _add_layer_facts(history, style)
    return history


def _add_reading(history: History, roles: list[Role]) -> None:
    placed = [r for r in roles if is_role(r.role.removeprefix(TEST))]
    unplaced = sorted({r.tag for r in roles if not is_role(r.role.removeprefix(TEST))})
    tag_map = sorted(f"{r.tag}={'val:' if r.role.startswith(TEST) else ''}{r.role.removeprefix(TEST)}"
                     for r in roles if r.role.removeprefix(TEST) != r.tag)
    history.facts = history.facts.but(reading=Reading(tuple(placed), tuple(unplaced)), tag_map=tuple(tag_map))


def _add_layer_facts(history: History, style: str) -> None:
    if history.facts.layer_order:
        return  # stated by the run (a watched script's own layer names, the `layers` text tag)
    order = keras.layer_order(history) if style == tag_styles.KERAS else []
    order = order or numbered_order([*history.train, *history.histograms])
    if order:
        history.facts = history.facts.but(layer_order=tuple(order))
    if style != tag_styles.TBLAB:
        outputs = _output_layers(history, order)
        if outputs:
            history.facts = history.facts.but(output_layers=tuple(outputs))


def _add_histograms(history: History, raw: RawHalf, how: _Style, roles: list[Role],
                    overrides: Mapping[str, str], gaps_only: bool) -> None:
    forced = {tag: role for role, tag in overrides.items()}
    for tag, written in raw.histograms.items():
        mapped = forced.get(tag) or tag_styles.map_histogram(tag, how.style)
        if tag not in forced and mapped in overrides:
            mapped = tag  # the user said another tag fills this role
        if gaps_only and (mapped in history.histograms or tag in history.histograms):
            continue
        if how.per_batch and tag.endswith("/histogram"):  # Keras writes weights at epoch end
            placed = tag_styles.place_at_iterations([snap.wall_time for snap in written], how.marks)
            written = [RawHistogram(step, snap.wall_time, snap.tensor) for step, snap in zip(placed, written)]
        for split_name, snaps in _split_collisions(mapped, tag, written, history.warnings):
            final = _claim(history.histograms, split_name, tag, "histogram", history.warnings)
            nonfinite: dict[str, int] = {}
            snapshots = _decode_snapshots(final, snaps, how.max_histograms, history.warnings, nonfinite)
            if nonfinite:
                noted = history.facts.nonfinite_histograms
                history.facts = history.facts.but(nonfinite_histograms={**noted, **nonfinite})
            if snapshots:  # a tag whose every snapshot was unusable is only in raw_tags and warnings
                history.histograms[final] = snapshots
                by = BY_USER if tag in forced else BY_NAME if final == tag_styles.strip_scopes(tag) else BY_WORDS
                roles.append(Role(final, tag, by))


def _claim(section: dict, name: str, raw_tag: str, what: str, warnings: list[str]) -> str:
    """name if still free in section; else the raw tag (two tags mapped to one name), with a warning."""
    if name not in section:
        return name
    warnings.append(f"{what} {raw_tag} also maps to {name}, which another tag fills; kept as {raw_tag}")
    return raw_tag


def _split_collisions(
    mapped: str, raw_tag: str, written: list[RawHistogram], warnings: list[str]
) -> list[tuple[str, list[RawHistogram]]]:
    """One histogram tag written several times per step held several tensors (early Keras 3
    named every weight just `kernel`): split them by write order into layer_1, layer_2, ..."""
    per_step = Counter(snap.step for snap in written)
    copies = max(per_step.values(), default=1)
    if copies == 1 or not tag_styles.lacks_layer(mapped):
        if copies > 1:
            warnings.append(f"histogram {raw_tag}: written up to {copies} times at one step; all kept")
        return [(mapped, written)]
    seen: Counter[int] = Counter()
    groups: dict[int, list[RawHistogram]] = {}
    for snap in written:
        seen[snap.step] += 1
        groups.setdefault(seen[snap.step], []).append(snap)
    warnings.append(
        f"histogram {raw_tag}: {copies} layers share this name; named layer_1..layer_{copies} in write order"
    )
    return [(tag_styles.number_layer(mapped, index), snaps) for index, snaps in sorted(groups.items())]


def _decode_snapshots(
    name: str, written: list[RawHistogram], keep: int | None, warnings: list[str], nonfinite: dict[str, int]
) -> list[HistogramSnapshot]:
    """Decode the kept snapshots; skip (with one warning per tag) those with non-finite edges,
    noting in `nonfinite` the first step at which each tag held NaN/Inf (a fact the doctor needs)."""
    snapshots, nonfinite_steps = [], []
    for snap in _evenly_spaced(written, keep):
        decoded = decode_histogram(snap.tensor)
        if decoded is None:
            continue
        edges, counts = decoded
        if not (np.isfinite(edges).all() and np.isfinite(counts).all()):
            nonfinite_steps.append(snap.step)
            continue
        snapshots.append(HistogramSnapshot(step=snap.step, edges=edges, counts=counts))
    if nonfinite_steps:
        warnings.append(
            f"histogram {name}: skipped {len(nonfinite_steps)} snapshots with NaN/Inf bucket edges "
            f"(first at step {nonfinite_steps[0]})"
        )
        nonfinite[name] = nonfinite_steps[0]
    return snapshots


def _evenly_spaced(items: list, keep: int | None) -> list:
    if keep is None or len(items) <= keep:
        return items
    if keep == 1:
        return items[-1:]
    picks = np.unique(np.round(np.linspace(0, len(items) - 1, keep)).astype(int))
    return [items[index] for index in picks]


def _name_layers_by_size(history: History, roles: list[Role]) -> None:
    """Histograms named by a layer only (`layer1`, `layer1_offset`): the larger tensor of a layer
    is its kernel, the smaller its bias (bucket counts add up to the tensor's size). Lone numbered
    histograms are kernels only in a log that names no variable: beside `W1` (its histogram or its
    gradient norm), `Act1` or `hidden1` is no variable."""
    unknown = {tag: float(snaps[0].counts.sum()) for tag, snaps in history.histograms.items()
               if "/" not in tag and tag != LOGITS and snaps}
    named = any((found := layer_of(key)) and found[0] in KERNEL_FAMILIES for key in [*history.histograms, *history.train])
    blank = frozenset(tag for tag in unknown if all(share_at_zero(snap) >= ALL_AT_ZERO for snap in history.histograms[tag]))
    for tag, name in name_by_size(unknown, singles=not named, blank=blank).items():
        if name not in history.histograms:
            history.histograms[name] = history.histograms.pop(tag)
            move_role(roles, tag, name, BY_CONTENT)


def _put_biases_beside_kernels(history: History, roles: list[Role]) -> None:
    """`weights/b0/bias` -> `weights/w0/bias` when the run has a kernel `w0`: one layer, not two."""
    keys = [*history.train, *history.histograms]
    layers = [found[1] for key in keys if (found := layer_of(key))]
    pairs = bias_beside_kernel(list(dict.fromkeys(layers)))
    for section in (history.train, history.histograms):
        for key in list(section):
            found = layer_of(key)
            if found and found[1] in pairs and key.endswith(f"/{found[1]}/{BIAS}"):
                new = layer_tag(found[0], pairs[found[1]], BIAS)
                if new not in section:
                    section[new] = section.pop(key)
                    move_role(roles, key, new, BY_WORDS)


def _input_stats_from_histogram(history: History, roles: list[Role]) -> None:
    """A histogram of the input batch (`input`, `x`, `images`) gives the input statistics a log
    without tblab's input/* scalars lacks: min, max, mean and std per snapshot."""
    if any(tag in history.train for tag in INPUT_STATS):
        return
    found = [tag for tag in history.histograms if names_inputs(tag)]
    if len(found) != 1:
        return
    stats: dict[str, Series] = {tag: Series() for tag in INPUT_STATS}
    for snap in history.histograms[found[0]]:
        for tag, value in zip(INPUT_STATS, histogram_stats(snap)):
            stats[tag].append(snap.step, value)
    for tag, series in stats.items():
        if series.steps:
            history.train[tag] = series
            roles.append(Role(tag, found[0], BY_CONTENT))


def _activations_by_content(history: History, roles: list[Role]) -> None:
    """A histogram no name places (`relu1`, `h1`, `hidden/out`) whose values are >= 0 with a pile
    at 0 (ReLU) or inside (0, 1) (sigmoid) holds a hidden layer's activations."""
    unplaced = [tag for tag in history.histograms if not is_role(tag)]
    paired = paired_by_name(unplaced)  # `layer1` beside `layer1_offset`: one layer's kernel and bias
    for tag in unplaced:
        if tag in paired or names_inputs(tag) or names_model_output(tag) or activation_shape(history.histograms[tag]) is None:
            continue
        name = layer_tag(ACTIVATIONS, tag.rsplit("/", 1)[-1])
        if name not in history.histograms:
            history.histograms[name] = history.histograms.pop(tag)
            move_role(roles, tag, name, BY_CONTENT)


def _output_layers(history: History, order: list[str]) -> list[str]:
    """The output layer of each family of per-layer tags, for logs whose layers are not named `output`."""
    tags = [*history.train, *history.histograms]
    if any(f"/{OUTPUT_LAYER}/" in tag or tag.endswith(f"/{OUTPUT_LAYER}") for tag in tags):
        return []
    return output_layers(tags, order)
