"""The learner's names in the hand-in: a layer as the variable the script names (W1,
weights[0]) where its tags could not carry that name (tblab's dense_1 ... output in older
logs, `weights_0` for the list item `weights[0]`), and text without bare `nan` / `inf` tokens."""

from __future__ import annotations

import re

from core.schema.tags import OUTPUT_LAYER

# "output" the layer ("6 orders below output (0.44)", "output kernel"), not the word ("the output
# layer", "units output 0", "outputs")
_OUTPUT = re.compile(rf"\b{OUTPUT_LAYER}\b(?=\s*(?:[,;:()]|$)|\s(?:kernel|bias|gradient|weight))")
_NONFINITE = re.compile(r"(?<![\w.])[-+]?(nan|inf|infinity)(?![\w])", re.IGNORECASE)


def layer_names(tag_names: dict[str, str]) -> dict[str, str]:
    """{layer: the script's name for its kernel} from a watch's {dense_1/kernel: W1, ...};
    layers whose kernel the script did not name are left out (tblab's name stands)."""
    mapping = {}
    for tag, name in tag_names.items():
        layer, _, part = tag.partition("/")
        if part == "kernel" and name:
            # A Keras variable's path (sequential/dense_1/kernel): its layer's own name, dense_1.
            mapping[layer] = name.split(":")[0].removesuffix("/kernel").rsplit("/", 1)[-1] if "/" in name else name
    return mapping


def shown(layer: str, mapping: dict[str, str]) -> str:
    return mapping.get(layer, layer)


def rename(text: str, mapping: dict[str, str]) -> str:
    """`text` with the layers' tag names replaced by the script's names for them."""
    if not mapping:
        return text
    renamed = sorted((layer for layer, name in mapping.items() if name != layer and layer != OUTPUT_LAYER), key=len, reverse=True)
    if renamed:  # whole names only: weights_1 is not the start of weights_10, nor of weights[1]
        layers = re.compile(rf"(?<![\w\[])({'|'.join(map(re.escape, renamed))})(?![\w\]])")
        text = layers.sub(lambda m: mapping[m[0]], text)
    if OUTPUT_LAYER in mapping:
        text = _OUTPUT.sub(mapping[OUTPUT_LAYER], text)
    return text


def plain(text: str) -> str:
    """No `nan` / `inf` tokens for a learner to puzzle over: they read as non-finite."""
    text = re.sub(r"\s*\((nan|NaN)\s*/\s*(inf|Inf)\)", "", text)  # "non-finite loss (NaN/Inf)"
    text = re.sub(r"\b(nan|NaN)\s*/\s*(inf|Inf)\b", "non-finite", text)
    text = re.sub(r"(?<![\w.])nan%", "an unknown share", text, flags=re.IGNORECASE)
    return _NONFINITE.sub("non-finite", text)


def fmt(value: float | int | None, digits: int = 3) -> str:
    """A number for the text: `none` for None, `non-finite` for NaN/Inf, never `nan`."""
    if value is None:
        return "none"
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        return "non-finite"
    if value == int(value) and abs(value) < 1e6:
        return str(int(value))
    return f"{value:.{digits}g}" if 1e-3 <= abs(value) < 1e4 else f"{value:.2e}"


def accuracy(value: float | None) -> str:
    if value is None or value != value:
        return "not measured"
    return f"{value:.3f}"
