"""fail2: the same 8-layer net with sigmoid units, where gradients vanish."""

from core.schema.config import RunConfig
from core.schema.scenario import Scenario

SCENARIO = Scenario(
    name="fail2",
    title="fail2: deep sigmoid net",
    symptom="Loss sits at 2.30 and batch accuracy near 10% for all 2000 steps. Nothing seems to happen.",
    diagnosis=(
        "With small weights every sigmoid outputs ~0.5 and passes back at most 1/4 of the gradient, times "
        "the small weights: the gradient shrinks ~7x per layer, so layer 1 gets ~1e-7 while the output layer "
        "gets ~1e-1. The lower layers never move and the net predicts one class (loss = ln 10). "
        "Use ReLU (with He init), or fewer layers."
    ),
    config=RunConfig(hidden_layers=8, activation="sigmoid", init="uniform(-0.1,0.1)"),
    expected_fixes=("activation", "init"),
)

if __name__ == "__main__":
    from core.runs.standalone import main

    raise SystemExit(main(SCENARIO))
