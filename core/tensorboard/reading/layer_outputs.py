"""A run's layer outputs placed by size (core/tensorboard/reading/units.py): unnamed histograms
that hold a batch's outputs become activations, every activation histogram joins the variable
layer it is the output of (`activations/Act1` -> `activations/W1`, `activations/h1` ->
`activations/w0`), and the sizes give History.facts the batch size, and the reading the number
of classes."""

from __future__ import annotations

from core.schema.history import History
from core.schema.tags import ACTIVATIONS, BIAS, GRAD_NORM, KERNEL, WEIGHTS, layer_tag
from core.tensorboard.layers import FIRST_LAYER, layer_of, numbered_order, paired_by_name
from core.tensorboard.reading import units
from core.tensorboard.reading.content import names_inputs, names_model_output, value_range
from core.tensorboard.reading.roles import BY_CONTENT, BY_NAME, BY_WORDS, Role, is_role, move_role


def variable_sizes(history: History) -> list[units.LayerSize]:
    """The variable layers (those with kernel or bias histograms or gradient norms), input side
    first, with the sizes their histograms show."""
    counts: dict[str, dict[str, int]] = {KERNEL: {}, BIAS: {}}
    keys = [key for key in [*history.histograms, *history.train]
            if (found := layer_of(key)) and found[0] in (WEIGHTS, GRAD_NORM) and key.rsplit("/", 1)[-1] in counts]
    for key in keys:
        snaps = history.histograms.get(key)
        if snaps and key.startswith(WEIGHTS + "/"):
            counts[key.rsplit("/", 1)[-1]][layer_of(key)[1]] = _count(snaps[0])
    order = numbered_order(keys)
    if FIRST_LAYER in order and len(order) > 1:  # a lone `weights` histogram: the first layer's kernel
        order.remove(FIRST_LAYER)
        if FIRST_LAYER in counts[KERNEL]:
            counts[KERNEL].setdefault(order[0], counts[KERNEL][FIRST_LAYER])
    return units.layer_sizes(order, counts[KERNEL], counts[BIAS])


def activations_by_size(history: History, roles: list[Role]) -> None:
    """Unnamed histograms whose counts are a batch's outputs, not a variable's size: activations."""
    sizes = variable_sizes(history)
    unplaced = [tag for tag in history.histograms if not is_role(tag)]
    paired = paired_by_name(unplaced)  # `layer1` beside `layer1_offset`: one layer's kernel and bias
    for tag in unplaced:
        if tag in paired or names_inputs(tag) or names_model_output(tag) or not _output_values(history.histograms[tag]):
            continue
        counts = [_count(snap) for snap in history.histograms[tag]]
        if not units.holds_a_batch(counts, sizes):
            continue
        name = layer_tag(ACTIVATIONS, tag.rsplit("/", 1)[-1])
        if name not in history.histograms:
            history.histograms[name] = history.histograms.pop(tag)
            move_role(roles, tag, name, BY_CONTENT)


def classes_shown(history: History) -> int | None:
    """The number of classes the log shows: the output layer's units (its bias, or its kernel over
    the previous layer's units). Only the reading uses it (the loss read by content starts near
    ln K); the doctor's K stays what a log states, since a log may leave its output layer out."""
    return units.output_units(variable_sizes(history))


def _output_values(snaps) -> bool:
    """Values an activation can take: >= 0 (ReLU, sigmoid; all 0 when dead) or inside [-1, 1]
    (tanh). A layer's pre-activations (`Wx_plus_b/pre_activations`) spread wider, on both signs."""
    for snap in snaps[-3:]:
        low, high = value_range(snap)
        if not (low >= -1e-6 or (low >= -1 - 1e-6 and high <= 1 + 1e-6)):
            return False
    return True


def match_activations(history: History, roles: list[Role]) -> None:
    """Activation histograms named after no variable layer join the layer they are the output of;
    the batch size the sizes imply goes into History.facts."""
    sizes = variable_sizes(history)
    variable_layers = {size.layer for size in sizes}
    loose = {layer: count for layer, count in _activation_counts(history).items() if layer not in variable_layers}
    matched = units.match(loose, sizes)
    renames = {layer_tag(ACTIVATIONS, old): layer_tag(ACTIVATIONS, new) for old, new in matched.layers.items()}
    if any(new in history.histograms for new in renames.values()):
        renames = {}  # the log has both: keep its own names
    moved = {old: history.histograms.pop(old) for old in renames}
    for old, new in renames.items():
        history.histograms[new] = moved[old]
        how = next((r.how for r in roles if r.role == old), BY_CONTENT)
        move_role(roles, old, new, BY_WORDS if how == BY_NAME else how)  # its layer is read by order and size
    facts = {}
    batch = _batch(history, sizes)
    if batch:
        facts["batch_size"] = batch
    if facts:
        history.facts = history.facts.but(**facts)


def _batch(history: History, sizes: list[units.LayerSize]) -> int | None:
    """The batch size every activation histogram in a variable layer of known units agrees on."""
    by_layer = {size.layer: size.units for size in sizes if size.units}
    batches = set()
    for layer, count in _activation_counts(history).items():
        if layer in by_layer:
            if count % by_layer[layer]:
                return None
            batches.add(count // by_layer[layer])
    return batches.pop() if len(batches) == 1 else None


def _activation_counts(history: History) -> dict[str, int]:
    """{layer: typical count} of the activation histograms `activations/<layer>`."""
    counts = {}
    for key, snaps in history.histograms.items():
        found = layer_of(key)
        if found and found[0] == ACTIVATIONS and key.count("/") == 1 and snaps:
            counts[found[1]] = units.typical([_count(snap) for snap in snaps])
    return counts


def _count(snap) -> int:
    """A histogram's elements: its bucket counts add up to the tensor's size."""
    return int(round(float(snap.counts.sum())))
