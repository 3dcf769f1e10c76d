"""RunConfig: the one frozen description of a training run, and its initializer specs.

Everything that changes what a run does lives here, so a run is reproducible from
its config alone and a fix is a pure function RunConfig -> RunConfig.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import numbers
import re
from dataclasses import dataclass

from core.schema.tags import INPUT_DIM, NUM_CLASSES
from core.schema.units import ACTIVATION_KINDS, Activation

NORMALIZATIONS = ("raw", "unit", "standard")  # 0-255 floats, [0, 1], zero mean / unit std
OPTIMIZERS = ("sgd", "momentum", "adam")

_UNIFORM = re.compile(r"^uniform\(\s*(-?[\d.eE+-]+)\s*,\s*(-?[\d.eE+-]+)\s*\)$")
_NORMAL = re.compile(r"^normal\(\s*([\d.eE+-]+)\s*\)$")

# Ranges that keep a run on one machine: a 200000-unit layer asks for hundreds of GiB.
MAX_HIDDEN_LAYERS = 64
MAX_HIDDEN_UNITS = 8192
MAX_PARAMETERS = 50_000_000  # 200 MB of float32 weights, before gradients and optimizer slots
MAX_BATCH_SIZE = 65536
MAX_STEPS = 100_000_000
MAX_SEED = 2**31 - 1


@dataclass(frozen=True)
class InitSpec:
    """A parsed weight initializer: 'he', 'glorot', 'zeros', 'uniform(a,b)' or 'normal(std)'."""

    kind: str
    low: float = 0.0
    high: float = 0.0
    std: float = 0.0


def parse_init(spec: str) -> InitSpec:
    """Parse an initializer spec, raising ValueError with the accepted forms."""
    if not isinstance(spec, str):
        raise ValueError(f"bad initializer {spec!r}: init must be a string such as 'he'")  # noqa: TRY004 - one error type for every bad config
    text = spec.strip().lower().replace(" ", "")
    if text in ("he", "glorot", "zeros"):
        return InitSpec(text)
    try:
        if match := _UNIFORM.match(text):
            low, high = float(match[1]), float(match[2])
            if math.isfinite(low) and math.isfinite(high) and low < high:
                return InitSpec("uniform", low=low, high=high)
        if match := _NORMAL.match(text):
            std = float(match[1])
            if math.isfinite(std) and std > 0:
                return InitSpec("normal", std=std)
    except ValueError:  # "normal(1.2.3)": fall through to the one message below
        pass
    raise ValueError(
        f"bad initializer {spec!r}: use he, glorot, zeros, uniform(LOW,HIGH) with LOW < HIGH, or normal(STD) with STD > 0"
    )


def _integer(low: int, high: int):
    def check(value) -> str:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            return f"must be a whole number from {low} to {high}"
        return "" if low <= value <= high else f"must be from {low} to {high}"

    return check


def _real(low: float, *, above: bool = False):
    """A finite number >= low (> low when `above`); ints are fine, bools and NaN are not."""
    def check(value) -> str:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            return "must be a finite number"
        if value < low or (above and value == low):
            return f"must be {'>' if above else '>='} {low:g}"
        return ""

    return check


def _flag(value) -> str:
    return "" if isinstance(value, bool) else "must be True or False"


def _one_of(choices: tuple[str, ...]):
    def check(value) -> str:
        return "" if isinstance(value, str) and value in choices else f"must be one of {', '.join(choices)}"

    return check


def _initializer(value) -> str:
    parse_init(value)  # raises its own one-line "bad initializer ..." message
    return ""


# Every field's type and range, in one place: RunConfig.__post_init__ checks them all.
FIELD_CHECKS = {
    "hidden_layers": _integer(0, MAX_HIDDEN_LAYERS),
    "hidden_units": _integer(1, MAX_HIDDEN_UNITS),
    "activation": _one_of(ACTIVATION_KINDS),
    "init": _initializer,
    "bias_init": _real(-math.inf),
    "softmax_before_loss": _flag,
    "input_noise_std": _real(0.0),
    "normalization": _one_of(NORMALIZATIONS),
    "shuffle_labels": _flag,
    "optimizer": _one_of(OPTIMIZERS),
    "learning_rate": _real(0.0, above=True),
    "batch_size": _integer(1, MAX_BATCH_SIZE),
    "steps": _integer(1, MAX_STEPS),
    "seed": _integer(0, MAX_SEED),
    "histogram_every": _integer(1, MAX_STEPS),
    "image_every": _integer(1, MAX_STEPS),
    "eval_every": _integer(1, MAX_STEPS),
    "stop_on_nonfinite": _flag,
}


def parameter_count(hidden_layers: int, hidden_units: int) -> int:
    widths = [INPUT_DIM] + [hidden_units] * hidden_layers + [NUM_CLASSES]
    return sum((a + 1) * b for a, b in itertools.pairwise(widths))


def validate(config) -> None:
    """Raise one one-line ValueError for the first field of wrong type or out of range."""
    for name, check in FIELD_CHECKS.items():
        value = getattr(config, name)
        problem = check(value)
        if problem:
            raise ValueError(f"bad config: {name} {problem}, not {value!r}")
    parameters = parameter_count(config.hidden_layers, config.hidden_units)
    if parameters > MAX_PARAMETERS:
        raise ValueError(
            f"bad config: {config.hidden_layers} hidden layers of {config.hidden_units} units is "
            f"{parameters:,} parameters, more than {MAX_PARAMETERS:,}; use fewer or smaller layers"
        )


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one training run of an MNIST MLP."""

    hidden_layers: int = 2
    hidden_units: int = 100
    activation: Activation = "relu"
    init: str = "he"
    bias_init: float = 0.0
    softmax_before_loss: bool = False  # the fail5 bug: probabilities fed to a logits loss
    input_noise_std: float = 0.0  # Gaussian noise added to training batches only
    normalization: str = "unit"
    shuffle_labels: bool = False  # labels permuted independently of the images
    optimizer: str = "sgd"
    learning_rate: float = 0.1
    batch_size: int = 128
    steps: int = 2000
    seed: int = 0
    histogram_every: int = 50
    image_every: int = 500
    eval_every: int = 100
    stop_on_nonfinite: bool = False

    def __post_init__(self) -> None:
        validate(self)

    def replace(self, **changes) -> RunConfig:
        return dataclasses.replace(self, **changes)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, values) -> RunConfig:
        """A RunConfig from its fields (others ignored); raises ValueError for bad values."""
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in dict(values).items() if k in known})
