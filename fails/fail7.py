"""fail7: labels shuffled independently of the images."""

from core.schema.config import RunConfig
from core.schema.scenario import Scenario

SCENARIO = Scenario(
    name="fail7",
    title="fail7: the model that learns nothing",
    symptom="A healthy-looking net: gradients flow, no unit is dead, nothing explodes. Still accuracy stays at ~10%.",
    diagnosis=(
        "The training labels were shuffled separately from the images, so they carry no information about the "
        "digit. The loss can only fall to the entropy of the label prior (ln 10) and test accuracy is chance. "
        "Keep each label with its image."
    ),
    config=RunConfig(hidden_layers=2, activation="relu", init="uniform(-0.1,0.1)", shuffle_labels=True),
    expected_fixes=("shuffle_labels_off",),
)

if __name__ == "__main__":
    from core.runs.standalone import main

    raise SystemExit(main(SCENARIO))
