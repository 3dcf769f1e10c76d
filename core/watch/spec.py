"""WatchSpec: what the parent asks of a watched run, passed to the child as JSON; and
WatchStop, the exception that ends the script early (no TensorFlow here: the child
needs both before TensorFlow is imported quietly)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

LR_FACTORS = {"lr_down": 0.1, "lr_up": 10.0}


@dataclass(frozen=True)
class WatchSpec:
    fixes: tuple[str, ...] = ()
    steps: int | None = None  # stop the script cleanly after this many training steps
    data_path: str | None = None
    seed: int = 0  # for the init fix's new weights
    histogram_every: int = 50
    image_every: int = 500
    probe_every: int = 10  # Keras fit: gradients and activations from a probe batch this often
    initializer: str = "he"  # the init fix's kernels: he or glorot (from the script's activations)
    # What lr_down / lr_up scale: "gradients" (a hand-written var.assign_sub(lr * grad)) or
    # "optimizer" (an optimizer object's learning rate).
    lr_target: str = "gradients"

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> WatchSpec:
        fields = json.loads(text)
        fields["fixes"] = tuple(fields.get("fixes", ()))
        return cls(**fields)

    @property
    def lr_factor(self) -> float:
        factor = 1.0
        for name in self.fixes:
            factor *= LR_FACTORS.get(name, 1.0)
        return factor


class WatchStop(BaseException):
    """Raised into the script to end it: --steps reached, or the parent asked it to stop.
    A BaseException so that the script's `except Exception` cannot swallow it."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
