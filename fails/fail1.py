"""fail1, "super deep model": 8 ReLU layers with weights too large for their width."""

from core.schema.config import RunConfig
from core.schema.scenario import Scenario

SCENARIO = Scenario(
    name="fail1",
    title="fail1: super deep model",
    symptom="A deeper net should learn more. This one starts with a loss in the hundreds, then prints nan.",
    diagnosis=(
        "Weights U(-0.4, 0.4) are about 1.6x the He scale for 100-unit ReLU layers, so each layer multiplies "
        "the activation variance by ~2.7: after 8 layers the logits are huge, the first step's loss is in the "
        "hundreds and the gradients (70-290 per layer instead of ~1) throw the weights to Inf, then NaN. "
        "Scale the init to the layer width (He), or use fewer layers, or a smaller learning rate."
    ),
    config=RunConfig(hidden_layers=8, activation="relu", init="uniform(-0.4,0.4)"),
    expected_fixes=("init",),
)

if __name__ == "__main__":
    from core.runs.standalone import main

    raise SystemExit(main(SCENARIO))
