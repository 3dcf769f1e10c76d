"""fail5, "softmax output layer": softmax applied before a loss that applies softmax itself."""

from core.schema.config import RunConfig
from core.schema.scenario import Scenario

SCENARIO = Scenario(
    name="fail5",
    title="fail5: softmax output layer",
    symptom="Accuracy climbs to ~90%, but the loss stalls around 1.5 and will not go lower.",
    diagnosis=(
        "The output goes through softmax and then into sparse_softmax_cross_entropy_with_logits, which applies "
        "softmax again. The 'logits' it sees live in [0, 1], so even a perfect prediction has loss "
        "ln(1 + 9/e) = 1.461, and gradients are ~10x smaller than they should be. Feed the raw logits to the loss."
    ),
    config=RunConfig(hidden_layers=2, activation="relu", init="uniform(-0.1,0.1)", softmax_before_loss=True),
    expected_fixes=("logits",),
)

if __name__ == "__main__":
    from core.runs.standalone import main

    raise SystemExit(main(SCENARIO))
