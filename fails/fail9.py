"""fail9: all-zero weight init, so every hidden unit stays identical."""

from core.schema.config import RunConfig
from core.schema.scenario import Scenario

SCENARIO = Scenario(
    name="fail9",
    title="fail9: the symmetric net",
    symptom="A 2-layer sigmoid net that learns something, but far less than it should.",
    diagnosis=(
        "All weights start at zero, so every hidden unit computes the same value and receives the same "
        "gradient: they stay identical forever and each layer behaves like a single unit. Random init breaks "
        "the symmetry (Glorot for sigmoid)."
    ),
    config=RunConfig(hidden_layers=2, activation="sigmoid", init="zeros"),
    expected_fixes=("init",),
    fix_shortfall=(
        "Glorot init breaks the symmetry (measured on the offline sample: 0.10 -> 0.89), but a 2-layer sigmoid "
        "net trains more slowly than the ReLU baseline (0.93) in 2000 steps; add the activation fix to close the gap."
    ),
)

if __name__ == "__main__":
    from core.runs.standalone import main

    raise SystemExit(main(SCENARIO))
