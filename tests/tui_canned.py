"""Canned lab data for the TUI tests: scenarios, step records, images and findings made up
in code, fed to the app through the same messages the training worker posts."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from core.doctor import Finding
from core.schema.config import RunConfig
from core.schema.history import StepRecord
from core.schema.scenario import LoadResult, Scenario
from tui.messages import RunEnded, RunPhase, StepBatch

SIGMOID_NET = Scenario(
    name="fail2", title="fail2: deep sigmoid net",
    symptom="The loss sits at 2.30 and accuracy at 10% for the whole run.",
    diagnosis="Eight sigmoid layers with small weights: gradients shrink ~7x per layer toward the input.",
    config=RunConfig(hidden_layers=8, activation="sigmoid", init="uniform(-0.1,0.1)", steps=400),
    expected_fixes=("activation",),
)
SOFTMAX_NET = Scenario(
    name="fail5", title="fail5: softmax output layer",
    symptom="Accuracy climbs to ~90%, but the loss stalls around 1.5.",
    diagnosis="Softmax is applied twice, so the loss cannot fall below 1.461.",
    config=RunConfig(hidden_layers=2, softmax_before_loss=True, steps=400),
    expected_fixes=("logits",),
)
BROKEN = LoadResult(Path("broken.py"), error="broken.py: failed to import: SyntaxError: invalid syntax (line 3)")


def canned_results() -> list[LoadResult]:
    return [
        LoadResult(Path("fail2.py"), scenario=SIGMOID_NET),
        LoadResult(Path("fail5.py"), scenario=SOFTMAX_NET),
        BROKEN,
    ]


def records(steps: int, layers: int, healthy: bool, start: int = 0) -> list[StepRecord]:
    """Step records shaped like a vanishing-gradient run (healthy=False) or a learning one."""
    rng = np.random.default_rng(0)
    names = [f"dense_{i}" for i in range(1, layers + 1)] + ["output"]
    out = []
    for step in range(start, start + steps):
        progress = 1 - math.exp(-step / 80)
        loss = (2.3 - 1.9 * progress if healthy else 2.302) + 0.03 * rng.standard_normal()
        scalars = {"loss": loss, "accuracy": (0.1 + 0.8 * progress) if healthy else 0.1, "nonfinite/count": 0.0}
        for depth, name in enumerate(names):
            below_top = len(names) - 1 - depth
            norm = (0.8 + 0.1 * rng.standard_normal()) if healthy else 0.1 * 7.0 ** -below_top
            scalars[f"grad_norm/{name}/kernel"] = abs(norm)
            if name != "output":
                key = "dead_fraction" if healthy else "saturated_fraction"
                scalars[f"{key}/{name}"] = 0.05 + 0.02 * depth / layers if healthy else 0.0
        out.append(StepRecord(step, scalars))
    return out


def digits(noise_std: float = 0.0, count: int = 8) -> np.ndarray:
    """Simple 28x28 shapes (rings and bars) standing in for digits, optionally with static."""
    yy, xx = np.mgrid[0:28, 0:28]
    images = np.zeros((count, 28, 28), np.float32)
    for i in range(count):
        if i % 2 == 0:
            radius = np.hypot(yy - 14, (xx - 14) * 1.4)
            images[i] = ((radius > 6 + i % 3) & (radius < 9 + i % 3)).astype(np.float32)
        else:
            images[i, 5:23, 12 + i % 4: 15 + i % 4] = 1.0
    if noise_std:
        images += noise_std * np.random.default_rng(1).standard_normal(images.shape).astype(np.float32)
    return images


VANISHING = Finding(
    id="vanishing_gradients", title="Vanishing gradients", severity="critical", step=50,
    layers=tuple(f"dense_{i}" for i in range(1, 9)),
    evidence="dense_1 gradient norm 2.4e-08, 6.6 orders below the output layer",
    explanation="Each sigmoid layer scales the gradient by at most 0.25.", fixes=("activation", "init"),
    confidence=0.9,
)


async def feed_run(pilot, slot_index: int, fixes: tuple[str, ...], *, healthy: bool, steps: int,
             images: np.ndarray | None = None, findings=(), end: str | None = "finished") -> int:
    """Start a canned run of a slot: the same messages the worker would post. Returns its run_id."""
    app = pilot.app
    slot = app.state.slots[slot_index]
    slot.toggled = set(fixes)
    spec, trace = app.state.new_run(slot)
    trace.logdir = f"logs/{slot.name}/canned-{'+'.join(fixes) or 'as-is'}"  # no timestamp: stable snapshots
    app.refresh_views()
    layers = trace.config.hidden_layers
    app.post_message(RunPhase(spec.run_id, "loading", "building the model", data_source="canned test data"))
    recs = records(steps, layers, healthy)
    for chunk in range(0, steps, 50):
        batch = recs[chunk: chunk + 50]
        evals = [(r.step, {"loss": r.scalars["loss"] - 0.05, "accuracy": r.scalars["accuracy"] + 0.02})
                 for r in batch if r.step % 100 == 0]
        app.post_message(StepBatch(spec.run_id, batch, evals, None, [], sent_at=chunk / 100))
    app.post_message(StepBatch(
        spec.run_id, [], [], (steps - 1, images if images is not None else digits()), list(findings), sent_at=steps / 100,
    ))
    if end is not None:
        app.post_message(RunEnded(spec.run_id, end, f"{steps} steps", test_accuracy=0.9 if healthy else 0.11))
    await pilot.pause()
    app.refresh_views()  # plots space their redraws by their cost; a snapshot must not depend on that
    await pilot.pause()
    return spec.run_id
