"""fail3: 2 ReLU layers whose weights are all negative, so every unit is dead."""

from core.schema.config import RunConfig
from core.schema.scenario import Scenario

SCENARIO = Scenario(
    name="fail3",
    title="fail3: the silent ReLU net",
    symptom="A small 2-layer ReLU net, yet the loss starts at exactly 2.3026 and barely moves; accuracy ~11%.",
    diagnosis=(
        "Weights are drawn from U(-0.1, 0): all negative. Inputs are >= 0, so every first-layer pre-activation "
        "is <= 0 and every ReLU outputs 0 from step 0: all hidden units are dead, their gradients are exactly 0, "
        "and only the output bias learns (the class prior). Use a zero-centred init (He), small positive biases, "
        "or leaky ReLU."
    ),
    config=RunConfig(hidden_layers=2, activation="relu", init="uniform(-0.1,0)"),
    expected_fixes=("init",),
)

if __name__ == "__main__":
    from core.runs.standalone import main

    raise SystemExit(main(SCENARIO))
