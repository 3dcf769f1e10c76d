"""RunConfig: the one frozen description of a training run, and its initializer specs.

Everything that changes what a run does lives here, so a run is reproducible from
its config alone and a fix is a pure function RunConfig -> RunConfig.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass

ACTIVATIONS = ("relu", "sigmoid", "tanh", "leaky_relu", "linear")
NORMALIZATIONS = ("raw", "unit", "standard")  # 0-255 floats, [0, 1], zero mean / unit std
OPTIMIZERS = ("sgd", "momentum", "adam")

_UNIFORM = re.compile(r"^uniform\(\s*(-?[\d.eE+-]+)\s*,\s*(-?[\d.eE+-]+)\s*\)$")
_NORMAL = re.compile(r"^normal\(\s*([\d.eE+-]+)\s*\)$")


@dataclass(frozen=True)
class InitSpec:
    """A parsed weight initializer: 'he', 'glorot', 'zeros', 'uniform(a,b)' or 'normal(std)'."""

    kind: str
    low: float = 0.0
    high: float = 0.0
    std: float = 0.0


def parse_init(spec: str) -> InitSpec:
    """Parse an initializer spec, raising ValueError with the accepted forms."""
    text = spec.strip().lower().replace(" ", "")
    if text in ("he", "glorot", "zeros"):
        return InitSpec(text)
    if match := _UNIFORM.match(text):
        low, high = float(match[1]), float(match[2])
        if low < high:
            return InitSpec("uniform", low=low, high=high)
    if match := _NORMAL.match(text):
        return InitSpec("normal", std=float(match[1]))
    raise ValueError(
        f"bad initializer {spec!r}: use he, glorot, zeros, uniform(LOW,HIGH) or normal(STD)"
    )


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one training run of an MNIST MLP."""

    hidden_layers: int = 2
    hidden_units: int = 100
    activation: str = "relu"
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
        parse_init(self.init)
        checks = [
            (self.activation in ACTIVATIONS, f"activation must be one of {ACTIVATIONS}"),
            (self.normalization in NORMALIZATIONS, f"normalization must be one of {NORMALIZATIONS}"),
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {OPTIMIZERS}"),
            (self.hidden_layers >= 0 and self.hidden_units >= 1, "need >= 0 hidden layers of >= 1 unit"),
            (self.learning_rate > 0, "learning_rate must be > 0"),
            (self.batch_size >= 1 and self.steps >= 1, "batch_size and steps must be >= 1"),
            (self.input_noise_std >= 0, "input_noise_std must be >= 0"),
            (min(self.histogram_every, self.image_every, self.eval_every) >= 1, "cadences must be >= 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def replace(self, **changes) -> RunConfig:
        return dataclasses.replace(self, **changes)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in json.loads(text).items() if k in known})
