"""fail6: raw 0-255 pixels fed to the net."""

from core.schema.config import RunConfig
from core.schema.scenario import Scenario

SCENARIO = Scenario(
    name="fail6",
    title="fail6: raw pixels",
    symptom="The baseline model, trained on the same images, yet the loss is enormous from the first step.",
    diagnosis=(
        "The pixels were never scaled: they range 0-255 instead of [0, 1], so first-layer pre-activations are "
        "255x too large, the loss and gradients explode and training diverges. Normalise the inputs."
    ),
    config=RunConfig(hidden_layers=2, activation="relu", init="uniform(-0.1,0.1)", normalization="raw"),
    expected_fixes=("normalize",),
)

if __name__ == "__main__":
    from core.runs.standalone import main

    raise SystemExit(main(SCENARIO))
