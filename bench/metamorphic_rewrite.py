"""Rewrite a run's TensorBoard event files into a variant that means the same, or says less.

The metamorphic suite (bench/metamorphic.py) and its frozen test subset use this. Every tag of
a source run is given its role from the writer that wrote it (the writers' own naming, run
forwards: no guessing), and a variant is a pure function of (role, step, value):

  rename   the role's tag in another real convention (RENAMES: TF v.name with :0, Keras
           dense_3/kernel:0 and sequential/dense/..., PyTorch fc1.weight, Loss/train,
           train_loss, metrics/loss, xent, Accuracy, scopes, capitalisation, separators)
  cadence  scalars kept every N steps, histograms every M, or means per epoch
  remove   whole groups of evidence dropped (GROUPS)

Event files are read and written record by record with TensorBoard's own loader and writer
(no TensorFlow import); events that are not summaries (the graph, the Keras model config)
are copied unchanged.
"""

from __future__ import annotations

import random
import re
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
from tensorboard.compat.proto import event_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter
from tensorboard.util import tensor_util

sys.path.insert(0, str(Path(__file__).resolve().parent))

from foreign_logs.loop_writer import _Names as LoopNames  # noqa: E402
from foreign_logs.student_suite import STYLES  # noqa: E402
from foreign_logs.student_writer import Names as StudentNames  # noqa: E402

MAX_LAYERS = 12
# Evidence groups a variant may drop, by role kind.
GROUPS = {
    "loss": ("loss",), "accuracy": ("acc",), "test": ("test_loss", "test_acc"), "gradients": ("grad",),
    "weights": ("weights",), "activations": ("act",), "images": ("images", "logits"),
}


@dataclass(frozen=True)
class Role:
    """What a tag holds: kind (loss, acc, test_loss, test_acc, grad, weights, act, images, logits),
    and for per-variable kinds the layer (0 = first, `last` marks the output) and part."""

    kind: str
    layer: int = -1
    part: str = ""  # kernel | bias


# ------------------------------------------------------------------------------ roles


def roles_of(writer: str, hidden_layers: int) -> dict[tuple[str, str], Role]:
    """(subfolder, tag) -> role for a run of this writer with this many hidden layers."""
    layers = hidden_layers + 1
    table: dict[tuple[str, str], Role] = {}
    if writer in STYLES:
        names = StudentNames(writer, layers)
        s = names.scalars
        for key, kind in (("loss", "loss"), ("acc", "acc"), ("test_loss", "test_loss"), ("test_acc", "test_acc"),
                          ("images", "images")):
            if s[key]:
                table[("", s[key])] = Role(kind)
        for i in range(layers):
            for part in ("kernel", "bias"):
                v_name = names.variable(i, part) + ":0"
                table[("", names.weights(i, part, v_name))] = Role("weights", i, part)
                table[("", names.grad_norm(i, part, v_name))] = Role("grad", i, part)
            table[("", names.activations(i))] = Role("act", i)
        return table
    if writer in ("flat", "split", "scoped"):
        names = LoopNames(writer)
        train, test = ("train", "test") if writer == "split" else ("", "")
        table[(train, names.loss)] = Role("loss")
        table[(train, names.accuracy)] = Role("acc")
        table[(test, names.test_loss)] = Role("test_loss")
        table[(test, names.test_accuracy)] = Role("test_acc")
        table[(train, "logits")] = Role("logits")
        if writer == "scoped":
            table[(train, "weights")] = Role("weights", 0, "kernel")
        for i in range(layers):
            for part, letter in (("kernel", "w"), ("bias", "b")):
                table[(train, names.grad_norm(f"{letter}{i}"))] = Role("grad", i, part)
            table[(train, f"layer{i + 1}")] = Role("weights", i, "kernel")
            table[(train, f"layer{i + 1}_offset")] = Role("weights", i, "bias")
            table[(train, names.activations(i + 1))] = Role("act", i)
        return table
    raise ValueError(f"no role table for writer {writer!r}: only renames need one")


# ------------------------------------------------------------------------------ renames


def _var(convention: str, i: int, part: str, layers: int) -> str:
    """A variable's name in one convention (layers: hidden + output)."""
    kernel = part == "kernel"
    return {
        "tf": f"{'w' if kernel else 'b'}{i}:0",
        "tf_caps": f"{'W' if kernel else 'b'}{i + 1}",
        "keras": f"{'dense' if i == 0 else f'dense_{i}'}/{part}:0",
        "sequential": f"sequential/{'dense' if i == 0 else f'dense_{i}'}/{part}",
        "torch": f"fc{i + 1}.{'weight' if kernel else 'bias'}",
        "layers": f"{'output' if i == layers - 1 else f'layer{i + 1}'}/{'weights' if kernel else 'biases'}",
    }[convention]


VARIABLES = ("tf", "tf_caps", "keras", "sequential", "torch", "layers")
LOSSES = ("loss", "xent", "cross_entropy", "Loss", "train_loss", "metrics/loss", "Loss/train", "train/loss")
ACCURACIES = ("accuracy", "acc", "Accuracy", "train_acc", "metrics/accuracy", "Accuracy/train", "train/accuracy")
TEST_ACCURACIES = ("test_accuracy", "test/acc", "Accuracy/test", "test_acc", "eval/accuracy", "TestAccuracy")
TEST_LOSSES = ("test_loss", "test/loss", "Loss/test", "eval/loss", "TestLoss")
GRADS = ("grad_norm/{v}", "{v}_grad_norm", "gradients/{v}", "grad/{v}", "GradNorm/{v}", "norm_grad_{v}")
ACTS = ("activations/{l}", "{l}/activations", "act_{l}", "{l}_out")
IMAGES = ("input", "inputs/images", "Images/train", "batch")


@dataclass(frozen=True)
class Convention:
    """One student's naming habits, drawn from the grammar above."""

    variables: str
    loss: str
    acc: str
    test_acc: str
    test_loss: str
    grad: str
    act: str
    images: str

    @property
    def name(self) -> str:
        return f"{self.variables}|{self.loss}|{self.grad.replace('{v}', 'V')}"

    def tag(self, role: Role, layers: int) -> str:
        if role.kind in ("loss", "acc", "test_acc", "test_loss", "images"):
            return getattr(self, role.kind)
        if role.kind == "logits":
            return "logits"
        layer = f"hidden{role.layer + 1}" if role.layer < layers - 1 else "output"
        if role.kind == "act":
            return self.act.format(l=layer)
        variable = _var(self.variables, role.layer, role.part, layers)
        return variable if role.kind == "weights" else self.grad.format(v=variable)


def conventions(count: int, seed: int = 0) -> list[Convention]:
    """`count` conventions from the grammar: the first few cover every variable style, the rest drawn."""
    rng = random.Random(seed)
    drawn = []
    for k in range(count):
        drawn.append(Convention(
            variables=VARIABLES[k % len(VARIABLES)], loss=rng.choice(LOSSES), acc=rng.choice(ACCURACIES),
            test_acc=rng.choice(TEST_ACCURACIES), test_loss=rng.choice(TEST_LOSSES), grad=rng.choice(GRADS),
            act=rng.choice(ACTS), images=rng.choice(IMAGES)))
    return drawn


# ------------------------------------------------------------------------------ records


@dataclass
class Record:
    """One summary value of a run: where it was, its role (None: not known), the event it came in."""

    folder: str
    tag: str
    step: int
    wall_time: float
    value: object  # the Summary.Value proto
    role: Role | None


def read_records(run: Path, roles: dict[tuple[str, str], Role] | None) -> tuple[list[Record], dict[str, list]]:
    """Every summary value of a run, and the other events of each subfolder (copied unchanged)."""
    records, others = [], defaultdict(list)
    for path in sorted(run.rglob("*tfevents*")):
        folder = str(path.parent.relative_to(run)) if path.parent != run else ""
        folder = "" if folder == "." else folder
        for raw in RawEventFileLoader(str(path)).Load():
            event = event_pb2.Event.FromString(raw)
            if event.HasField("file_version"):
                continue
            if not event.HasField("summary"):
                others[folder].append(event)
                continue
            for value in event.summary.value:
                role = (roles or {}).get((folder, value.tag))
                records.append(Record(folder, value.tag, event.step, event.wall_time, value, role))
    return records, others


def write_records(out: Path, records: list[Record], others: dict[str, list]) -> None:
    """Write records (grouped by folder, in step order) as new event files under out."""
    by_folder: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        by_folder[record.folder].append(record)
    for folder in set(by_folder) | set(others):
        target = out / folder if folder else out
        target.mkdir(parents=True, exist_ok=True)
        writer = EventFileWriter(str(target))
        for event in others.get(folder, ()):
            writer.add_event(event)
        for record in sorted(by_folder.get(folder, ()), key=lambda r: (r.step, r.wall_time)):
            event = event_pb2.Event(step=record.step, wall_time=record.wall_time)
            event.summary.value.add().CopyFrom(record.value)
            writer.add_event(event)
        writer.close()


def scalar_of(record: Record) -> float | None:
    value = record.value
    if value.HasField("simple_value"):
        return float(value.simple_value)
    if value.HasField("tensor"):
        array = tensor_util.make_ndarray(value.tensor)
        if array.size == 1 and np.issubdtype(array.dtype, np.number):
            return float(array.reshape(-1)[0])
    return None


def with_scalar(record: Record, number: float, step: int) -> Record:
    value = type(record.value)()
    value.CopyFrom(record.value)
    if value.HasField("simple_value"):
        value.simple_value = number
    else:
        value.tensor.CopyFrom(tensor_util.make_tensor_proto(np.float32(number)))
    return Record(record.folder, record.tag, step, record.wall_time, value, record.role)


# ------------------------------------------------------------------------------ variants


def renamed(records: list[Record], convention: Convention, layers: int) -> list[Record] | None:
    """Every known tag in the convention's names; None when a tag has no known role."""
    out = []
    for record in records:
        if record.role is None:
            return None
        value = type(record.value)()
        value.CopyFrom(record.value)
        value.tag = convention.tag(record.role, layers)
        # One folder: the convention's own names tell train from test.
        out.append(Record("", value.tag, record.step, record.wall_time, value, record.role))
    return out


def _is_train_scalar(record: Record) -> bool:
    test_folder = record.folder in ("test", "validation", "eval")
    if record.role is not None:
        return record.role.kind in ("loss", "acc", "grad") and not test_folder
    return not test_folder and not re.search(r"test|val|eval", record.tag, re.I) and scalar_of(record) is not None \
        and record.value.metadata.plugin_data.plugin_name in ("scalars", "")


def _is_histogram(record: Record) -> bool:
    return record.value.metadata.plugin_data.plugin_name in ("histograms", "images") or (
        record.value.HasField("histo") or record.value.HasField("image"))


def recadenced(records: list[Record], every: int, hist_every: int) -> list[Record]:
    """Train scalars kept at steps that are multiples of `every` and histograms/images at multiples
    of `hist_every` (of the run's own histogram steps); test values and the last record of each
    tag always kept (one test accuracy at the end stays)."""
    last = {}
    for record in records:
        last[(record.folder, record.tag)] = max(last.get((record.folder, record.tag), -1), record.step)
    hist_steps = sorted({r.step for r in records if _is_histogram(r)})
    keep_hist = set(hist_steps[::max(1, hist_every)]) | set(hist_steps[-1:])
    out = []
    for record in records:
        is_last = record.step == last[(record.folder, record.tag)]
        if _is_histogram(record):
            if record.step in keep_hist:
                out.append(record)
        elif _is_train_scalar(record):
            if record.step % every == 0 or is_last:
                out.append(record)
        else:
            out.append(record)
    return out


def per_epoch(records: list[Record], epoch_steps: int) -> list[Record]:
    """Means of each train scalar over each epoch of `epoch_steps` steps, at the epoch's index;
    histograms: the last of each epoch; test values at their epoch's index."""
    out, chunks = [], defaultdict(list)
    for record in records:
        epoch = record.step // epoch_steps
        if _is_train_scalar(record):
            chunks[(record.folder, record.tag, epoch)].append(record)
        elif _is_histogram(record):
            chunks[(record.folder, record.tag, epoch)].append(record)
        else:
            out.append(Record(record.folder, record.tag, epoch, record.wall_time, record.value, record.role))
    for (_, _, epoch), group in chunks.items():
        if _is_histogram(group[0]):
            latest = max(group, key=lambda r: r.step)
            out.append(Record(latest.folder, latest.tag, epoch, latest.wall_time, latest.value, latest.role))
            continue
        numbers = [n for n in (scalar_of(r) for r in group) if n is not None]
        if numbers:
            out.append(with_scalar(group[-1], float(np.mean(numbers)), epoch))
    return out


def removed(records: list[Record], groups: tuple[str, ...]) -> list[Record]:
    """The records without the roles of `groups` (records of unknown role are kept)."""
    kinds = {kind for group in groups for kind in GROUPS[group]}
    return [r for r in records if r.role is None or r.role.kind not in kinds]


def present_groups(records: list[Record]) -> tuple[str, ...]:
    kinds = {r.role.kind for r in records if r.role is not None}
    return tuple(group for group, members in GROUPS.items() if kinds.intersection(members))
