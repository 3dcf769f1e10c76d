"""RunFacts: what is known about a run besides its values, as one frozen, typed record.

A producer states some facts when a run starts (its config, the data it trains on, the
class balance of that data, its variables' names, a watched script's layers as it names
them and which is the output one); a reader of another program's logs
recovers others (the log style, what a step counts, the layers and which is the output,
the model's own config, Keras running means undone or kept). The producer's facts are
written into the run's event files as text tags (`texts`) and read back from them
(`with_text`), so a run read from disk has the facts it had live.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from core.schema.class_balance import META_KEY as CLASS_BALANCE_TEXT
from core.schema.class_balance import ClassBalance
from core.schema.reading import Reading

# The text tags a run's facts are written under (the tag is the field's name).
CONFIG_TEXT, DATA_SOURCE_TEXT, RUN_TEXT, VARIABLES_TEXT = "config", "data_source", "run", "variables"
SCRIPT_TEXT, FIXES_TEXT, LAYERS_TEXT = "script", "fixes", "layers"


@dataclass(frozen=True)
class RunFacts:
    """Facts of one run; every field has an empty default (an unknown fact). Mappings are
    read-only by convention: change a fact with `but`."""

    # --- stated by the producer, written as text tags
    run: str = ""
    config: Mapping[str, object] = field(default_factory=dict)  # RunConfig's fields (a watched script: those it showed)
    data_source: str = ""
    class_balance: ClassBalance | None = None
    variables: Mapping[str, str] = field(default_factory=dict)  # tag name -> the script's own name (watched scripts)
    script: str = ""  # a watched script's path
    fixes: tuple[str, ...] = ()  # the fixes a watched script runs under (its patches)
    loop: str = ""  # how it trains: "tblab" (a scenario), "custom loop" or "keras fit" (a watched script)
    # --- stated by a watched script (its layers named as it names them) or recovered by the reader
    layer_order: tuple[str, ...] = ()  # input side first
    output_layers: tuple[str, ...] = ()  # the layers that are the output one, when not called `output`
    # --- recovered by the reader (core/tensorboard/reader.py)
    style: str = ""  # core/tensorboard/tag_styles.py: tblab, keras, plain
    step_unit: Literal["step", "epoch"] = "step"
    raw_tags: tuple[str, ...] = ()  # every tag as written
    tag_map: tuple[str, ...] = ()  # raw=mapped, for each renamed tag
    model: Mapping[str, object] = field(default_factory=dict)  # core/tensorboard/model_config.py
    nonfinite_histograms: Mapping[str, int] = field(default_factory=dict)  # tag -> first step dropped for NaN/Inf
    deaveraged: str = ""  # what Keras running means were turned back into per-batch values
    running_means: tuple[str, ...] = ()  # tags left as Keras running means
    num_classes: int | None = None  # stated by a log that says so; else the class balance's, else MNIST's
    batch_size: int | None = None  # a foreign log's activation histograms: their count / their layer's units
    reading: Reading = field(default_factory=Reading)  # which tag fills which role (core/schema/reading.py)

    def but(self, **changes) -> RunFacts:
        """These facts with some changed."""
        return dataclasses.replace(self, **changes)

    def texts(self) -> dict[str, str]:
        """The text tags these facts are written under: the run's name, and those known of
        config (JSON), data_source, class_balance (JSON), script, fixes (comma-joined, as
        the CLI takes them), variables (JSON) and layers (JSON: order and outputs)."""
        texts = {RUN_TEXT: self.run}
        if self.config:
            texts[CONFIG_TEXT] = json.dumps(dict(self.config), sort_keys=True)  # RunConfig.to_json's text
        if self.data_source:
            texts[DATA_SOURCE_TEXT] = self.data_source
        if self.class_balance is not None:
            texts[CLASS_BALANCE_TEXT] = self.class_balance.to_json()
        if self.script:
            texts[SCRIPT_TEXT] = self.script
            texts[FIXES_TEXT] = ",".join(self.fixes)
        if self.variables:
            texts[VARIABLES_TEXT] = json.dumps(dict(self.variables))
        if self.layer_order:
            texts[LAYERS_TEXT] = json.dumps({"order": list(self.layer_order), "outputs": list(self.output_layers)})
        return texts

    def with_text(self, tag: str, text: str) -> RunFacts:
        """These facts with one text tag read back (see `texts`); a text that does not parse
        leaves its fact unknown."""
        if tag == CONFIG_TEXT:
            return self.but(config=_json_object(text))
        if tag == CLASS_BALANCE_TEXT:
            return self.but(class_balance=ClassBalance.from_json(text))
        if tag == VARIABLES_TEXT:
            return self.but(variables={str(k): str(v) for k, v in _json_object(text).items()})
        if tag == LAYERS_TEXT:
            return self.but(**_layers(_json_object(text)))
        if tag == FIXES_TEXT:
            return self.but(fixes=tuple(name for name in text.split(",") if name))
        if tag in (DATA_SOURCE_TEXT, RUN_TEXT, SCRIPT_TEXT):
            return self.but(**{tag: text})
        raise ValueError(f"no run fact is written as text tag {tag!r}")


MAX_FACT_TEXT = 1 << 20  # tblab's own facts are a few kB


def _layers(stated: dict) -> dict:
    """layer_order and output_layers from a layers text's object; {} (both unknown) unless
    both are lists of names and every output is one of the layers."""
    order, outputs = stated.get("order"), stated.get("outputs")
    if not (isinstance(order, list) and isinstance(outputs, list)):
        return {}
    if not all(isinstance(name, str) for name in order + outputs) or not set(outputs) <= set(order):
        return {}
    return {"layer_order": tuple(order), "output_layers": tuple(outputs)}


def _json_object(text: str) -> dict:
    """A JSON object, or {} for anything else: a log's text is untrusted, and json.loads of
    a deeply nested text raises RecursionError rather than ValueError."""
    if len(text) > MAX_FACT_TEXT:
        return {}
    try:
        parsed = json.loads(text or "{}")
    except (ValueError, RecursionError):
        return {}
    return parsed if isinstance(parsed, dict) else {}
