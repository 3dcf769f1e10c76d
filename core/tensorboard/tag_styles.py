"""Which program wrote a TensorBoard log, and how its tag names map onto tblab's.

Pure functions on tag names (no TensorFlow, no files). A tag is read by its words
(core/tensorboard/vocabulary.py), never by a list of spellings: any separator (`/ _ - . :`),
capitalisation (camelCase, Title/Case), scope (`metrics/`, `summaries/`, `while/`) and
TensorFlow suffix (`:0`, `_1`). "half" is the folder a value came from (train/, or val/,
test/ ...; a run without such folders is all train half). Anything that names no role keeps
its tag, in the section of its half, and the Reading lists it as not placed.

  words in the tag                                  read as
  ------------------------------------------------  --------------------------------------------
  tblab's own names (loss, grad_norm/..., weights/...)  unchanged
  a loss word (loss, xent, cross entropy, ce, nll,  loss / accuracy / learning_rate of the split
    cost), an accuracy word (acc, accuracy,            the tag names (train, val, test, eval, dev
    correct), a rate (lr, learning rate); with or      ...), else of its half: `metrics/loss`,
    without a split word and neutral words            `Loss/train`, `test_acc`, `Train/XEnt`
  the same among other words (`final_test_acc`)     that role only if no tag names it outright
  a word for another quantity (l2_loss, loss_scale,  not a loss or accuracy: kept
    top5_accuracy, num_correct)
  a grad word and a norm word (grad, gradient(s);    grad_norm/<var>, grad_norm/global when no
    norm, l2, magnitude), or a grad word and a        variable is left: `grad_norm_w0`,
    variable (`gradients/w0:0`)                       `w0/GradNorm`, `gradient_magnitude/fc1.weight`
  a norm word and a variable (`w0_norm`)            weight_norm/<var>
  Keras: batch_*, epoch_*, evaluation_*_vs_iterations  per batch / per epoch (see `_map_keras_scalar`)
  Keras: [<model>/]<layer>/<weight>/histogram       histogram weights/<layer>/<weight>
  Keras 3 early: kernel/histogram, once per layer   weights/layer_<i>/kernel, i in write order
  histogram of a variable (`w0:0`, `dense_3/kernel:0`,  weights/<layer>/kernel or .../bias; a bias
    `sequential/dense/bias:0`, `fc1.weight`, `W_1`,     `b0` joins its kernel `w0`'s layer (reader)
    `layer1/weights/summaries/histogram`)
  histogram with a kind word: grad(s), gradient(s),  gradients/<var>, activations/<layer>
    activation(s) (`h1_activations`, `fc1.weight.grad`)
  histogram logits, output/logits, logits_out       logits (what the loss was handed)
  histogram weights, kernel, w (one, no layer)      weights/first_layer/kernel
  histograms named by a layer only (layer1,         kernel and bias told apart by size (bucket
    layer1_offset, fc2, fc2_b)                        counts add up to the tensor's size)

A variable keeps the log's own name as its layer (`w0`, `wout`, `fc1`, `dense_3`), so the
evidence speaks as the learner's code does; <var> is reduced to `<layer>/<weight>` (the last
two path parts when the last is a weight word: kernel, weight(s), w, bias(es), b). Keras
writes epoch-stepped values (epoch_*, histograms); when it also wrote batch_* values, those
are placed at the iteration the epoch ended (see `place_at_iterations`), so a run's steps
stay one unit.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from core.schema.class_balance import META_KEY as CLASS_BALANCE_KEY
from core.schema.facts import LAYERS_TEXT
from core.schema.tags import ACTIVATIONS, GRAD_NORM, KERNEL, NONFINITE_COUNT, WEIGHT_NORM, WEIGHTS, layer_tag
from core.tensorboard.vocabulary import (
    GRAD_NORM_WORDS,
    GRAD_WORDS,
    NEUTRAL_WORDS,
    NORM_WORDS,
    OWN_VARIABLE,
    base_word,
    drop_tf_suffixes,
    is_grad_norm,
    metric_meaning,
    words,
)

TBLAB, KERAS, PLAIN = "tblab", "keras", "plain"
TRAIN, VAL = "train", "val"

_WEIGHT_NAMES = {
    "kernel": "kernel",
    "weights": "kernel",
    "weight": "kernel",
    "w": "kernel",
    "bias": "bias",
    "biases": "bias",
    "b": "bias",
    "gamma": "gamma",
    "beta": "beta",
    "moving_mean": "moving_mean",
    "moving_variance": "moving_variance",
    "embeddings": "embeddings",
}
_VARIABLE_SUFFIX = re.compile(r"(?:[:_]\d+)$")  # noqa: E501  # kernel:0 (TF1 names), kernel_0 (':' not allowed in tags)
# TF1 makes a summary's name unique in its graph: `accuracy` becomes `accuracy_1` when a name
# scope `accuracy` exists (TensorFlow's mnist_with_summaries logs cross_entropy_1, accuracy_1).
_TF1_UNIQUE_SUFFIX = re.compile(r"_\d+$")
# Scopes TF1 tutorials wrap summaries in (`layer1/weights/summaries/histogram`): they name no layer.
_SUMMARY_SCOPES = {"summaries", "summary", "histogram", "histograms"}
_GLOBAL_WORDS = {"global", "total", "all", "model", "overall"}
# Words of a norm tag that are not the variable's name.
_NORM_NOISE = GRAD_WORDS | NORM_WORDS | GRAD_NORM_WORDS | NEUTRAL_WORDS | {"of"}
_LOGITS_WORDS = {"logits", "logit"}
_KERAS_SCALAR = re.compile(r"^(?:batch|epoch)_.+$|^evaluation_.+_vs_iterations$")
_TBLAB_SIGNATURE = (NONFINITE_COUNT,)  # a name only tblab writes
_CONTROL_FLOW_SCOPES = re.compile(r"^(?:(?:while|cond)(?:_\d+)?/)+")
_KIND_WORDS = {
    "weights": "weights",
    "weight": "weights",
    **{word: "gradients" for word in ("grad", "grads", "gradient", "gradients")},
    **{word: "activations" for word in ("activation", "activations")},
}


@dataclass(frozen=True)
class ScalarTarget:
    """Where a scalar tag goes: section TRAIN or VAL, under name; epoch_stepped if Keras logged it per epoch."""

    section: str
    name: str
    epoch_stepped: bool = False


def strip_scopes(tag: str) -> str:
    """The tag without the `while/` and `cond/` scopes TensorFlow adds inside tf.function loops
    and ifs, and without the `:0` output index of variable names (`tf.summary.histogram(v.name, v)`)."""
    return drop_tf_suffixes(_CONTROL_FLOW_SCOPES.sub("", tag))


def detect_style(scalar_tags: set[str], histogram_tags: set[str], text_tags: set[str]) -> str:
    """TBLAB, KERAS or PLAIN, from the tags present in both halves of a run."""
    scalar_tags = {strip_scopes(tag) for tag in scalar_tags}
    text_tags = {strip_scopes(tag) for tag in text_tags}
    if "config" in text_tags or any(tag in scalar_tags for tag in _TBLAB_SIGNATURE):
        return TBLAB
    if any(_KERAS_SCALAR.match(tag) for tag in scalar_tags) or any(map(_is_keras_histogram, histogram_tags)):
        return KERAS
    return PLAIN


def _is_keras_histogram(tag: str) -> bool:
    """Keras' `[<layer>/]<weight>/histogram` (`dense_1/kernel/histogram`), not a tutorial's
    `layer1/weights/summaries/histogram`."""
    parts = tag.split("/")
    return len(parts) >= 2 and parts[-1] == "histogram" and _weight_name(parts[-2]) is not None


def keras_per_batch(train_scalar_tags: set[str]) -> bool:
    """True if a Keras run logged batch_* values (update_freq 'batch' or N), so steps are iterations."""
    return any(tag.startswith("batch_") for tag in train_scalar_tags)


def is_keras_iteration_mark(tag: str) -> bool:
    """Keras tags whose step is the optimizer iteration: batch_* and evaluation_*_vs_iterations."""
    return tag.startswith("batch_") or bool(re.match(r"^evaluation_.+_vs_iterations$", tag))


def map_scalar(tag: str, half: str, style: str, per_batch: bool = False) -> ScalarTarget:
    """The section and tblab name of scalar `tag` read from `half` (TRAIN or VAL)."""
    return _map_scalar_unscoped(strip_scopes(tag), half, style, per_batch)


def _map_scalar_unscoped(tag: str, half: str, style: str, per_batch: bool) -> ScalarTarget:
    if style == KERAS:
        target = _map_keras_scalar(tag, half, per_batch)
        if target is not None:
            return target
    return _map_plain_scalar(tag, half)


def map_histogram(tag: str, style: str) -> str:
    """The tblab name of histogram `tag`; unknown tags keep their name.

    A Keras tag without a layer part (`kernel/histogram`) maps to `weights/kernel`:
    `number_layer` later names each layer once the write order is known.
    """
    return _map_histogram_unscoped(strip_scopes(tag), style)


def _map_histogram_unscoped(tag: str, style: str) -> str:
    if style == KERAS and tag.endswith("/histogram"):
        parts = tag[: -len("/histogram")].split("/")
        return layer_tag(WEIGHTS, "/".join(_variable_parts(parts)))
    return _map_plain_histogram(tag)


def number_layer(name: str, index: int) -> str:
    """`weights/kernel` -> `weights/layer_<index>/kernel`, for histograms whose layer name is missing."""
    kind, _, weight = name.rpartition("/")
    return f"{kind}/layer_{index}/{weight}"


def lacks_layer(name: str) -> bool:
    """True for mapped histogram names like `weights/kernel` that name no layer."""
    return name.count("/") == 1 and name.split("/")[0] in ("weights", "gradients")


def map_text(tag: str) -> str | None:
    """The RunFacts text tag a text tag is (core/schema/facts.py), or None if it is not one tblab reads."""
    tag = strip_scopes(tag)
    return tag if tag in ("config", "data_source", LAYERS_TEXT, CLASS_BALANCE_KEY) else None


def place_at_iterations(wall_times: list[float], marks: list[tuple[float, int]]) -> list[int]:
    """For each wall time, the highest iteration among the marks written at or before it.

    Keras steps epoch values by epoch index; the batch_* and evaluation_*_vs_iterations
    values written before an epoch's values tell at which iteration that epoch ended.
    """
    ordered = sorted(marks)
    times = [time for time, _ in ordered]
    highest, best = [], 0
    for _, step in ordered:
        best = max(best, step)
        highest.append(best)
    placed = []
    for time in wall_times:
        index = bisect.bisect_right(times, time)
        placed.append(highest[index - 1] if index else 0)
    return placed


def _map_keras_scalar(tag: str, half: str, per_batch: bool) -> ScalarTarget | None:
    if match := re.match(r"^evaluation_(.+)_vs_iterations$", tag):
        metric = _keras_metric(match[1])
        if per_batch and metric in ("loss", "accuracy"):
            return ScalarTarget(VAL, metric)
        return ScalarTarget(VAL, tag)
    if tag.startswith("batch_"):
        metric = _keras_metric(tag[len("batch_") :])
        return ScalarTarget(half, metric or tag)
    if tag.startswith("epoch_"):
        metric = _keras_metric(tag[len("epoch_") :])
        if metric == "learning_rate" or (metric and not per_batch):
            return ScalarTarget(half, metric, epoch_stepped=True)
        return ScalarTarget(half, tag, epoch_stepped=True)
    return None


def _keras_metric(name: str) -> str | None:
    """The metric a Keras metric name is (`sparse_categorical_accuracy` is the accuracy), or None."""
    meaning = metric_meaning(name)
    return meaning.metric if meaning is not None and meaning.extras == 0 and meaning.split is None else None


def _map_plain_scalar(tag: str, half: str) -> ScalarTarget:
    found = words(tag)
    if is_grad_norm(found) or _names_gradient_of_variable(tag, found):
        return ScalarTarget(half, _norm_name(GRAD_NORM, tag))
    meaning = metric_meaning(tag)
    if meaning is not None and meaning.extras == 0:
        return ScalarTarget(meaning.split or half, meaning.metric)
    if _names_weight_norm(found):
        return ScalarTarget(half, _norm_name(WEIGHT_NORM, tag))
    return ScalarTarget(half, tag)


def scalar_candidate(tag: str, half: str) -> tuple[ScalarTarget, int] | None:
    """For a tag whose words name a metric among other words (`final_test_acc`, `loss_train_avg10`):
    where it would go and how many words are unexplained. The reader gives it the metric's name
    only when no tag names that metric outright (core/tensorboard/reading/roles.py)."""
    meaning = metric_meaning(strip_scopes(tag))
    if meaning is None or meaning.extras == 0:
        return None
    return ScalarTarget(meaning.split or half, meaning.metric), meaning.extras


def _names_gradient_of_variable(tag: str, found: list[str]) -> bool:
    """A scalar named by a grad word and a variable (`gradients/w0`, `grad/dense/kernel:0`): a
    scalar summary of a whole gradient is a reduction of it, and people log its norm."""
    if not any(base_word(word) in GRAD_WORDS for word in found):
        return False
    rest = _strip_words(tag, _NORM_NOISE)
    return bool(rest) and _variable_named(rest)


def _names_weight_norm(found: list[str]) -> bool:
    """`weight_norm/w0`, `w0_norm`, `norm/dense/kernel`: a norm word and a weight or variable."""
    if not any(word in NORM_WORDS for word in found):
        return False
    return any(_WEIGHT_NAMES.get(base_word(word)) in ("kernel", "bias") or OWN_VARIABLE.match(word) for word in found)


def _norm_name(family: str, tag: str) -> str:
    """`<family>/<var>` for a norm tag, the norm's words taken out; `<family>/global` without a variable."""
    rest = _strip_words(tag, _NORM_NOISE | ({"weight", "weights"} if family == WEIGHT_NORM else set()))
    if not rest or rest.lower() in _GLOBAL_WORDS:
        return layer_tag(family, "global")
    return layer_tag(family, "/".join(_variable_parts(rest.split("/"), weight_default=KERNEL)))


def _strip_words(tag: str, removable: set[str]) -> str:
    """tag without the path parts and tokens whose words are all in removable, keeping the
    separators between the tokens left (`fc1.bias_grad_norm` -> `fc1.bias`)."""
    kept_parts = []
    for part in drop_tf_suffixes(tag).split("/"):
        pieces = re.split(r"([^A-Za-z0-9]+)", part)
        tokens, separators = pieces[0::2], pieces[1::2]
        text = ""
        for index, token in enumerate(tokens):
            found = words(token)
            if not found or all(base_word(word) in removable or word in removable for word in found):
                continue
            text += (separators[index - 1] if text and index else "") + token
        if text:
            kept_parts.append(text)
    return "/".join(kept_parts)


def _variable_named(rest: str) -> bool:
    """The rest of a tag names a variable: its last part is a weight word or a numbered variable."""
    last = re.split(r"[/.]", rest)[-1]
    return _weight_name(last) is not None or bool(OWN_VARIABLE.match(last))


def _map_plain_histogram(tag: str) -> str:
    # PyTorch names parameters fc1.weight and logs their gradients as fc1.weight.grad.
    parts = tag.split("/") if "/" in tag else tag.split(".")
    parts = [part for part in parts if _TF1_UNIQUE_SUFFIX.sub("", part.lower()) not in _SUMMARY_SCOPES] or parts
    if any(part.lower() in _LOGITS_WORDS for part in parts) or any(
        word.lower() in _LOGITS_WORDS for word in re.split(r"[_\-]", parts[-1])
    ):
        return "logits"
    if len(parts) < 2:
        return _map_one_word_histogram(tag)
    last_kind = _KIND_WORDS.get(parts[-1].lower())
    if last_kind in ("gradients", "activations"):  # dense_1/kernel/gradients, fc1.weight.grad
        return _kind_name(last_kind, parts[:-1])
    for index, part in enumerate(parts[:-1]):  # gradients/dense_1/kernel, while/cond/weights/...
        kind = _KIND_WORDS.get(part.lower())
        if kind is not None:
            return _kind_name(kind, parts[index + 1 :])
    if last_kind == "weights":  # layer1/weights -> layer1/kernel; dense_1/kernel/weights
        return _kind_name("weights", parts if _weight_name(parts[-2]) is None else parts[:-1])
    if _weight_name(parts[-1]) in ("kernel", "bias"):  # dense/kernel_0, layer1/biases
        return _kind_name("weights", parts)
    return tag


def _map_one_word_histogram(tag: str) -> str:
    """`hidden1_activations`, `grad_w0`, `w0`, `weights`: the kind word is one of the `_`-joined
    words; a lone weight word is the first layer's kernel (notebooks log `weights` of layer 1)."""
    if _weight_name(tag) == "kernel":
        return layer_tag(WEIGHTS, "first_layer", KERNEL)
    if OWN_VARIABLE.match(tag):
        return _kind_name("weights", [tag])
    pieces = re.split(r"[_\-]", tag)
    if len(pieces) >= 2:
        for kind_word, rest in ((pieces[-1], pieces[:-1]), (pieces[0], pieces[1:])):
            kind = _KIND_WORDS.get(kind_word.lower())
            if kind is not None:
                return _kind_name(kind, ["_".join(rest)])
    return tag


def _kind_name(kind: str, rest: list[str]) -> str:
    if kind == "activations":  # the layer is the innermost scope (`sequential/dense_1`: dense_1), as for weights
        return layer_tag(ACTIVATIONS, rest[-1] if rest and rest[-1] else "/".join(rest))
    return f"{kind}/" + "/".join(_variable_parts(rest, weight_default="kernel" if kind == "weights" else None))


def _weight_name(part: str) -> str | None:
    return _WEIGHT_NAMES.get(_VARIABLE_SUFFIX.sub("", part.lower()))


def _variable_parts(parts: list[str], weight_default: str | None = None) -> list[str]:
    """A variable path reduced to [layer, weight] when it ends in a weight name, else as given.

    With weight_default, a path naming only a layer (`weights/layer1`) gets that weight.
    """
    if len(parts) == 1 and "." in parts[0]:  # PyTorch parameter names: fc1.weight, layers.0.bias
        parts = parts[0].split(".")
    own = OWN_VARIABLE.match(parts[-1]) if len(parts) == 1 else None
    if own:  # w0 -> w0/kernel, b0 -> b0/bias (the reader puts b0 beside w0): the log's own names
        return [parts[-1], "bias" if own[1].lower().startswith("b") else "kernel"]
    weight = _weight_name(parts[-1])
    if weight is None:
        return [*parts, weight_default] if weight_default and len(parts) == 1 else list(parts)
    return [*parts[-2:-1], weight]
