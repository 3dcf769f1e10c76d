"""fail4, "noise improves generalisation": Gaussian noise of std 4 on every training batch."""

from core.schema.config import RunConfig
from core.schema.scenario import Scenario

SCENARIO = Scenario(
    name="fail4",
    title="fail4: noise improves generalisation",
    symptom="Training accuracy crawls around 20%, yet test accuracy is far higher. Noise is said to help generalisation.",
    diagnosis=(
        "Noise with std 4 is added to pixels that live in [0, 1]: the training images are pure static (look at "
        "the input images), the first layer's activations are ~13x larger than on clean data and the gradients "
        "mostly fit noise. The clean test set is easier than the training data, so test beats train. "
        "Remove the noise or scale it to the data (std 0.5 still trains well)."
    ),
    config=RunConfig(hidden_layers=2, activation="relu", init="uniform(-0.1,0.1)", input_noise_std=4.0),
    expected_fixes=("no_noise",),
)

if __name__ == "__main__":
    from core.runs.standalone import main

    raise SystemExit(main(SCENARIO))
