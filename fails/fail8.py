"""fail8: Adam with a learning rate fit for plain SGD."""

from core.schema.config import RunConfig
from core.schema.scenario import Scenario

SCENARIO = Scenario(
    name="fail8",
    title="fail8: Adam with an SGD learning rate",
    symptom="Switched the optimiser to Adam for speed. The loss jumps around instead of falling.",
    diagnosis=(
        "Adam scales every step to about the learning rate per weight, whatever the gradient's size. At 0.05 "
        "that moves each weight by ~0.05 per step, larger than the weights themselves (update-to-weight ratio "
        "far above 1e-3): the loss oscillates and many ReLUs die. Lower the learning rate."
    ),
    config=RunConfig(hidden_layers=2, activation="relu", init="uniform(-0.1,0.1)", optimizer="adam", learning_rate=0.05),
    expected_fixes=("lr_down",),
)

if __name__ == "__main__":
    from core.runs.standalone import main

    raise SystemExit(main(SCENARIO))
