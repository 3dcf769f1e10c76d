"""The words people use in tag names, and a tag split into them: what a tag means is read
from its words, whatever the separators (`/ _ - . :` and spaces), capitalisation (camelCase,
Title/Case), scopes (`metrics/`, `summaries/`) or TensorFlow suffixes (`:0`, `_1`).

Pure functions on strings (no TensorFlow); core/tensorboard/tag_styles.py builds the mapping
onto tblab's names from them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TRAIN, VAL = "train", "val"
LOSS, ACCURACY, LEARNING_RATE = "loss", "accuracy", "learning_rate"

SPLIT_WORDS = {
    "train": TRAIN, "training": TRAIN, "trn": TRAIN,
    "val": VAL, "valid": VAL, "validation": VAL, "test": VAL, "testing": VAL, "tst": VAL,
    "eval": VAL, "evaluation": VAL, "dev": VAL, "holdout": VAL,
}
METRIC_WORDS = {
    "loss": LOSS, "losses": LOSS, "xent": LOSS, "crossentropy": LOSS, "ce": LOSS, "nll": LOSS,
    "cost": LOSS, "xentropy": LOSS,
    "acc": ACCURACY, "accuracy": ACCURACY, "accuracies": ACCURACY, "correct": ACCURACY,
    "lr": LEARNING_RATE, "learningrate": LEARNING_RATE,
}
# Two words that name one metric when they follow each other.
METRIC_PAIRS = {("cross", "entropy"): LOSS, ("x", "ent"): LOSS, ("x", "entropy"): LOSS, ("learning", "rate"): LEARNING_RATE, ("log", "loss"): LOSS}
GRAD_WORDS = {"grad", "grads", "gradient", "gradients", "dw", "dweights"}
NORM_WORDS = {"norm", "norms", "l2", "l2norm", "magnitude", "mag"}
GRAD_NORM_WORDS = {"gradnorm", "gradnorms", "gnorm", "gradientnorm", "gradientnorms"}
GLOBAL_WORDS = {"global", "total", "all", "model", "overall"}
# Words that only say how or where a value was summarised: they change no meaning.
NEUTRAL_WORDS = {
    "metrics", "metric", "scalars", "scalar", "summary", "summaries", "mean", "avg", "average",
    "total", "overall", "batch", "step", "iter", "iteration", "running", "smoothed", "value",
    "of", "per", "sparse", "categorical", "binary", "plain", "model", "my", "net", "mnist",
    "final", "last", "end", "epoch",
}
# Words that turn a metric word into another quantity: an l2 loss is a regulariser, a loss
# scale belongs to mixed precision, top-5 accuracy is not the accuracy.
OTHER_QUANTITY_WORDS = {
    "scale", "scaling", "reg", "regularization", "regularisation", "regularizer", "l1", "l2", "weight",
    "weights", "decay", "aux", "auxiliary", "kl", "top5", "top3", "std", "min", "max", "var", "variance",
    "ratio", "delta", "diff", "count", "num", "number", "ema", "grad", "gradient", "norm",
}
# A variable named by a weight word and a layer number or position, as hand-written code names
# them: w0, W_1, kernel2, b0, bias_3, weights-1, wout, b_out, w_h1. The log's own name is kept
# as the layer's name (evidence then says `w0`, as the learner's code does).
OWN_VARIABLE = re.compile(
    r"^(w|weights?|kernel|b|bias(?:es)?)[_\-]?(\d+|out|output|in|input|o|h\d*|hidden\d*|fc\d*|final|last|first)$",
    re.IGNORECASE)
INPUT_WORDS = {"input", "inputs", "x", "images", "image", "pixels", "pixel", "features", "data", "batch", "raw"}
_TIMING_WORDS = {"time", "sec", "secs", "seconds", "ms", "duration", "throughput", "speed", "memory", "examples"}
_SEPARATORS = re.compile(r"[^A-Za-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
# TF's output index on a variable's name, wherever the name sits in a tag: `w0:0`, `w0:0/grad`,
# `w0:0_grad_norm` (a tag built as f"{v.name}_grad_norm").
_TF_VARIABLE_SUFFIX = re.compile(r":\d+(?=[^A-Za-z0-9]|$)")
_TRAILING_NUMBER = re.compile(r"(?<=[a-z])\d+$")


def words(text: str) -> list[str]:
    """`metrics/trainLoss:0` -> ['metrics', 'train', 'loss']: lower-case words, TF's `:0` gone."""
    text = _TF_VARIABLE_SUFFIX.sub("", text)
    found = []
    for chunk in _SEPARATORS.split(text):
        found.extend(word.lower() for word in _CAMEL.split(chunk) if word)
    return found


def drop_tf_suffixes(tag: str) -> str:
    """`dense/kernel:0` -> `dense/kernel`: TensorFlow's output index on a variable's name."""
    return _TF_VARIABLE_SUFFIX.sub("", tag)


def base_word(word: str) -> str:
    """`loss1` -> `loss`, `accuracy` unchanged: a vocabulary word with a number stuck on."""
    return _TRAILING_NUMBER.sub("", word)


@dataclass(frozen=True)
class MetricMeaning:
    """What a scalar's words say: a metric (LOSS, ACCURACY, LEARNING_RATE), the split it
    names (TRAIN, VAL or None), and how many words are left unexplained (0: nothing else)."""

    metric: str
    split: str | None
    extras: int


def metric_meaning(tag: str) -> MetricMeaning | None:
    """The metric a scalar tag names, or None when it names none (or another quantity)."""
    found = words(tag)
    metric, split, extras, index = None, None, 0, 0
    while index < len(found):
        word, base = found[index], base_word(found[index])
        pair = METRIC_PAIRS.get(tuple(found[index:index + 2]))
        if pair is not None:
            metric, index = metric or pair, index + 2
            continue
        if word in OTHER_QUANTITY_WORDS:
            return None
        if base in METRIC_WORDS or any(word.endswith(long) for long in ("crossentropy", "xentropy")):
            named = METRIC_WORDS.get(base, LOSS)
            if metric is not None and named != metric:
                return None  # `loss_accuracy`: two metrics, no one meaning
            metric = named
        elif base in SPLIT_WORDS:
            split = split or SPLIT_WORDS[base]
        elif not (word.isdigit() or word in NEUTRAL_WORDS):
            extras += 1
        index += 1
    return MetricMeaning(metric, split, extras) if metric else None


def is_grad_norm(found: list[str]) -> bool:
    """The words name a gradient's norm: a grad word and a norm word, or one word for both."""
    return any(w in GRAD_NORM_WORDS for w in found) or (
        any(base_word(w) in GRAD_WORDS for w in found) and any(w in NORM_WORDS for w in found))


def names_a_quantity(tag: str) -> bool:
    """The tag's words name a metric or some other quantity (`l2_loss`, `step_time`, `lr`), so its
    content must not be taken for a loss or an accuracy that no tag names."""
    return any(base_word(word) in METRIC_WORDS or word in OTHER_QUANTITY_WORDS or word in _TIMING_WORDS
               for word in words(tag))
