"""The text tags tblab reads from a log (its own run config, data source and class balance,
Keras' model config), parsed as untrusted data: bounded in size and nesting, validated by
type and range. A bad tag costs that tag, with a warning, never the run's values."""

from __future__ import annotations

import dataclasses
import json
import math
import re

import numpy as np

from core.schema.class_balance import META_KEY as CLASS_BALANCE_KEY
from core.schema.class_balance import ClassBalance
from core.schema.config import RunConfig
from core.schema.facts import CONFIG_TEXT, LAYERS_TEXT
from core.schema.history import History
from core.tensorboard import tag_styles
from core.tensorboard.model_config import summarise_keras
from core.tensorboard.reading.decode import KERAS_MODEL_TEXT
from core.tensorboard.reading.names import printable

MAX_JSON_BYTES = 2 << 20  # a Keras model config of a large model is a few hundred kB
MAX_DEPTH = 64  # Keras configs nest ~10 deep; json.loads recurses once per level
MAX_STRING = 500  # characters of one string value kept (a data source, an activation name)
MAX_LIST = 1000  # items of one list value (per-class counts, fix names)
MAX_COUNT = 10**12  # examples per class
_STRING_LITERAL = re.compile(rb'"(?:[^"\\]|\\.)*"')
_FIELD_TYPES = {field.name: type(field.default) for field in dataclasses.fields(RunConfig)}


class BadText(ValueError):
    """A text tag that is not what it claims to be; the message says why in a few words."""


def add_texts(history: History, texts: dict[str, str]) -> None:
    """The text tags of one half into History.facts, each validated; bad ones are warnings."""
    for tag, text in texts.items():
        key = KERAS_MODEL_TEXT if tag == KERAS_MODEL_TEXT else tag_styles.map_text(tag)
        if key is None:
            continue
        try:
            if key == KERAS_MODEL_TEXT:
                history.facts = history.facts.but(model=_keras_model(text))
            elif key == CONFIG_TEXT:
                history.facts = history.facts.but(config=_run_config(text, history.warnings))
            elif key == CLASS_BALANCE_KEY:
                history.facts = history.facts.but(class_balance=_class_balance(text))
            elif key == LAYERS_TEXT:
                history.facts = _stated_layers(history.facts, text)
            else:
                history.facts = history.facts.with_text(key, printable(text, MAX_STRING))
        except BadText as error:
            shown = "Keras model config" if key == KERAS_MODEL_TEXT else f"text tag {printable(tag)}"
            history.warnings.append(f"{shown}: {error}; not used")


def _stated_layers(facts, text: str):
    """The facts with the layers a watched script's run stated (its own names, input side
    first, and the output one); BadText for anything else."""
    parse_json(text, MAX_STRING * 100, max_depth=2)
    stated = facts.with_text(LAYERS_TEXT, text)
    if not stated.layer_order:
        raise BadText("not a list of layers and the output ones among them")
    return stated


def parse_json(text: str, max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_DEPTH):
    """json.loads of text no larger than max_bytes and no deeper than max_depth; BadText otherwise.
    Non-finite numbers (NaN, Infinity, 1e400) are refused: no field tblab reads may be one."""
    data = text.encode("utf-8", errors="replace")
    if len(data) > max_bytes:
        raise BadText(f"{len(data)} bytes, over the {max_bytes} a config can need")
    if _depth(data) > max_depth:
        raise BadText(f"nested deeper than {max_depth} levels")
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except (ValueError, RecursionError) as error:
        raise BadText(f"not JSON ({printable(str(error), 80)})") from None


def _depth(data: bytes) -> int:
    """The deepest bracket nesting outside string literals."""
    bare = np.frombuffer(_STRING_LITERAL.sub(b'""', data), dtype=np.uint8)
    steps = np.isin(bare, (ord("["), ord("{"))).astype(np.int64) - np.isin(bare, (ord("]"), ord("}")))
    return int(np.cumsum(steps).max(initial=0))


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number tblab accepts")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} overflows a float")
    return value


def _run_config(text: str, warnings: list[str]) -> dict:
    """tblab's RunConfig as logged: known fields must have their type; others must be plain values."""
    config = parse_json(text)
    if not isinstance(config, dict):
        raise BadText(f"a {type(config).__name__} where a JSON object belongs")
    kept, dropped = {}, []
    for key, value in config.items():
        if _config_value_ok(key, value):
            kept[key] = value
        else:
            dropped.append(printable(str(key), 40))
    if dropped:
        warnings.append(f"text tag config: left out {', '.join(dropped[:5])} (wrong type or range)")
    return kept


def _config_value_ok(key: str, value) -> bool:
    expected = _FIELD_TYPES.get(key)
    if expected is bool:
        return isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= 2**62
    if expected is float:
        return isinstance(value, int | float) and not isinstance(value, bool) and abs(value) <= 1e12
    if expected is str:
        return isinstance(value, str) and len(value) <= MAX_STRING
    if isinstance(value, list):  # a field tblab does not know: plain values only (fix names, say)
        return len(value) <= MAX_LIST and all(_plain(item) for item in value)
    return _plain(value)


def _plain(value) -> bool:
    return value is None or isinstance(value, bool | int | float) or (isinstance(value, str) and len(value) <= MAX_STRING)


def _class_balance(text: str) -> ClassBalance:
    data = parse_json(text)
    if not isinstance(data, dict):
        raise BadText(f"a {type(data).__name__} where a JSON object belongs")
    for half in ("train", "test"):
        counts = data.get(half)
        if not isinstance(counts, list) or not 2 <= len(counts) <= MAX_LIST:
            raise BadText(f"`{half}` is not a list of 2 to {MAX_LIST} counts")
        if not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= MAX_COUNT for n in counts):
            raise BadText(f"`{half}` holds a count that is not a whole number from 0 to {MAX_COUNT}")
    balance = ClassBalance.from_json(json.dumps(data))
    if balance is None:
        raise BadText("train and test counts do not match or sum to 0")
    return balance


def _keras_model(text: str) -> dict:
    config = parse_json(text)
    try:
        model = summarise_keras(config)
    except (TypeError, AttributeError, KeyError, ValueError, IndexError) as error:
        raise BadText(f"malformed ({type(error).__name__})") from None
    if model is None:
        raise BadText("not a Keras model config")
    return model
