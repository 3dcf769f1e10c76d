"""The rule registry: every check the doctor runs, the tags each one needs, and which
findings explain which (so the root cause, not a symptom, is named first)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.doctor.findings import Finding, Verdict
from core.doctor.rules_input import check_input_noise, check_input_scale
from core.doctor.rules_loss import check_loss_at_chance, check_loss_floor, check_lr_too_high, check_lr_too_low
from core.doctor.rules_signal import check_exploding, check_nonfinite, check_vanishing
from core.doctor.rules_units import check_dead_relu, check_saturated, check_symmetric_init
from core.doctor.view import RunView
from core.schema.tags import (
    ACCURACY,
    ACTIVATION_STD,
    ACTIVATIONS,
    BIAS,
    DEAD_FRACTION,
    GRAD_NORM,
    GRADIENTS,
    INPUT_MAX,
    INPUT_STD,
    KERNEL,
    LOSS,
    NONFINITE_COUNT,
    OUTPUT_LAYER,
    SATURATED_FRACTION,
    UPDATE_RATIO,
    WEIGHT_NORM,
    WEIGHTS,
    layer_tag,
)


@dataclass(frozen=True)
class Rule:
    """One check: its identity (id, title) is written here and nowhere else."""

    id: str
    title: str
    needs: tuple[str, ...]  # tag patterns, any one suffices ("hist:" = histogram tags, "val:" = test-set)
    needs_text: str  # what to log to enable it, for a learner
    check: Callable[[RunView], Verdict | None]
    sticky: bool = False  # once true, true for the rest of the run: the live doctor stops re-checking it

    def runnable(self, view: RunView) -> bool:
        return any(view.matches(pattern) for pattern in self.needs)

    def run(self, view: RunView) -> Finding | None:
        """The rule's finding on this view, named by the rule, or None."""
        verdict = self.check(view)
        return None if verdict is None else verdict.named(self.id, self.title)


KERNEL_GRAD_NORMS = layer_tag(GRAD_NORM, "*", KERNEL)
OUTPUT_BIAS_GRAD_NORM = layer_tag(GRAD_NORM, OUTPUT_LAYER, BIAS)

RULES: tuple[Rule, ...] = (
    Rule("nonfinite", "Non-finite loss or weights (NaN/Inf)",
         (LOSS, NONFINITE_COUNT, f"hist:{WEIGHTS}/*", f"hist:{GRADIENTS}/*"),
         "a loss scalar or weight histograms", check_nonfinite, sticky=True),
    Rule("exploding", "Exploding activations or gradients",
         (f"{ACTIVATION_STD}/*", KERNEL_GRAD_NORMS, LOSS, f"hist:{WEIGHTS}/*"),
         "per-layer activation std or gradient norms (or a loss scalar, weight histograms)", check_exploding),
    Rule("vanishing", "Vanishing gradients",
         (KERNEL_GRAD_NORMS, f"hist:{GRADIENTS}/*"),
         "per-layer gradient norms grad_norm/<layer>/kernel or gradient histograms", check_vanishing),
    Rule("symmetric_init", "Weights start identical (e.g. all zero)",
         (layer_tag(WEIGHT_NORM, "*", KERNEL), f"hist:{WEIGHTS}/*"),
         "per-layer weight norms or weight histograms", check_symmetric_init),
    Rule("dead_relu", "Dead ReLU units",
         (f"{DEAD_FRACTION}/*", KERNEL_GRAD_NORMS, f"hist:{ACTIVATIONS}/*"),
         "dead_fraction/<layer>, per-layer gradient norms or activation histograms", check_dead_relu),
    Rule("saturated", "Saturated sigmoid/tanh units",
         (f"{SATURATED_FRACTION}/*",),
         "saturated_fraction/<layer>", check_saturated),
    Rule("loss_at_chance", "Loss stuck at chance", (LOSS,), "a training loss scalar", check_loss_at_chance),
    Rule("loss_floor", "Loss floor: probabilities fed to a loss that expects logits",
         (OUTPUT_BIAS_GRAD_NORM, ACCURACY),
         "grad_norm/output/bias, or a training accuracy next to the loss", check_loss_floor),
    Rule("input_scale", "Inputs not normalised", (INPUT_MAX,), "input/min, input/max, input/mean, input/std",
         check_input_scale),
    Rule("input_noise", "Training inputs drowned in noise", (INPUT_STD, f"val:{ACCURACY}"),
         "input batch statistics, or test accuracy next to training accuracy", check_input_noise),
    Rule("lr_too_high", "Learning rate too high", (f"{UPDATE_RATIO}/*", LOSS),
         "update_ratio/<layer>/kernel or a loss scalar", check_lr_too_high),
    Rule("lr_too_low", "Learning rate too low", (f"{UPDATE_RATIO}/*",), "update_ratio/<layer>/kernel", check_lr_too_low),
)

RULES_BY_ID = {rule.id: rule for rule in RULES}

# finding -> the findings that would explain it. A finding explained by another finding
# present in the same run is a symptom; the primary finding is the best-ranked one that
# nothing else explains.
EXPLAINED_BY: dict[str, tuple[str, ...]] = {
    "nonfinite": ("exploding", "lr_too_high", "input_scale"),
    "exploding": ("input_scale", "input_noise"),
    "lr_too_high": ("exploding", "input_scale", "input_noise", "symmetric_init"),
    "dead_relu": ("exploding", "lr_too_high", "input_scale", "nonfinite", "symmetric_init"),
    "saturated": ("input_scale", "exploding", "symmetric_init"),
    "vanishing": ("saturated", "dead_relu", "symmetric_init"),
    "loss_at_chance": ("dead_relu", "vanishing", "saturated", "nonfinite", "exploding", "input_scale",
                       "input_noise", "lr_too_low", "loss_floor", "symmetric_init"),
    "lr_too_low": ("vanishing", "dead_relu", "saturated", "loss_floor", "symmetric_init"),
}


def primary_finding(findings: list[Finding]) -> Finding | None:
    """The best-ranked finding that no other present finding explains."""
    present = {f.id for f in findings}
    ranked = sorted(findings, key=Finding.rank)
    for finding in ranked:
        if not present.intersection(EXPLAINED_BY.get(finding.id, ())):
            return finding
    return ranked[0] if ranked else None
