"""The rule registry: every check the doctor runs, the tags each one needs, and which
findings explain which (so the root cause, not a symptom, is named first)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.doctor.findings import Finding
from core.doctor.rules_input import check_input_noise, check_input_scale
from core.doctor.rules_labels import check_shuffled_labels
from core.doctor.rules_loss import check_loss_at_chance, check_loss_floor, check_lr_too_high, check_lr_too_low
from core.doctor.rules_signal import check_exploding, check_nonfinite, check_vanishing
from core.doctor.rules_units import check_dead_relu, check_saturated, check_symmetric_init
from core.doctor.view import RunView


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    needs: tuple[str, ...]  # tag patterns, any one suffices ("hist:" = histogram tags, "val:" = test-set)
    needs_text: str  # what to log to enable it, for a learner
    check: Callable[[RunView], Finding | None]
    sticky: bool = False  # once true, true for the rest of the run: the live doctor stops re-checking it

    def runnable(self, view: RunView) -> bool:
        return any(view.matches(pattern) for pattern in self.needs)


# Patterns: a train scalar glob; "hist:" a histogram glob; "val:" a test-set scalar; "meta:" a
# fact the reader recovered (meta:model is the model's own config, written by Keras' callback).
RULES: tuple[Rule, ...] = (
    Rule("nonfinite", "Non-finite loss or weights",
         ("loss", "nonfinite/count", "hist:weights/*", "hist:gradients/*", "meta:nonfinite_histograms"),
         "a `loss` scalar", check_nonfinite, sticky=True),
    Rule("exploding", "Exploding activations or gradients",
         ("activation_std/*", "grad_norm/*/kernel", "loss", "hist:weights/*"),
         "per-layer gradient norms `grad_norm/<layer>/kernel`", check_exploding),
    Rule("vanishing", "Vanishing gradients",
         ("grad_norm/*/kernel", "hist:gradients/*", "hist:weights/*"),
         "per-layer gradient norms `grad_norm/<layer>/kernel`", check_vanishing),
    Rule("symmetric_init", "Weights start identical",
         ("weight_norm/*/kernel", "hist:weights/*", "meta:model"),
         "weight histograms from step 0 (`weights/<layer>/kernel`)", check_symmetric_init),
    Rule("dead_relu", "Dead ReLU units",
         ("dead_fraction/*", "grad_norm/*/kernel", "hist:activations/*", "hist:weights/*", "meta:model"),
         "the share of dead units `dead_fraction/<layer>`", check_dead_relu),
    Rule("saturated", "Saturated sigmoid/tanh units",
         ("saturated_fraction/*", "hist:activations/*", "hist:weights/*", "meta:model"),
         "per-layer activation histograms `activations/<layer>`", check_saturated),
    Rule("loss_at_chance", "Loss stuck at chance", ("loss",), "a `loss` scalar", check_loss_at_chance),
    Rule("loss_floor", "Loss floor (probabilities fed to a logits loss)",
         ("grad_norm/output/bias", "accuracy", "hist:logits", "meta:model"),
         "an `accuracy` scalar next to the loss", check_loss_floor),
    Rule("input_scale", "Inputs not normalised",
         ("input/max", "loss", "hist:activations/*", "grad_norm/*/kernel"),
         "input batch statistics `input/max`", check_input_scale),
    Rule("input_noise", "Training inputs drowned in noise", ("input/std", "val:accuracy"),
         "a test-set `accuracy` beside the training one", check_input_noise),
    Rule("lr_too_high", "Learning rate too high", ("update_ratio/*", "loss"),
         "a `loss` scalar", check_lr_too_high),
    Rule("lr_too_low", "Learning rate too low", ("update_ratio/*", "hist:weights/*", "grad_norm/*/kernel"),
         "per-step update sizes `update_ratio/<layer>/kernel`", check_lr_too_low),
    Rule("shuffled_labels", "Labels carry no information", ("val:accuracy",),
         "a test-set `accuracy` beside the training one", check_shuffled_labels),
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
    "saturated": ("input_scale", "exploding", "symmetric_init", "lr_too_high"),
    "vanishing": ("saturated", "dead_relu", "symmetric_init"),
    "loss_at_chance": ("dead_relu", "vanishing", "saturated", "nonfinite", "exploding", "input_scale",
                       "input_noise", "lr_too_low", "loss_floor", "symmetric_init", "lr_too_high", "shuffled_labels"),
    "lr_too_low": ("vanishing", "dead_relu", "saturated", "loss_floor", "symmetric_init", "nonfinite"),
    "shuffled_labels": ("input_noise", "nonfinite"),
}


def primary_finding(findings: list[Finding]) -> Finding | None:
    """The best-ranked finding that no other present finding explains."""
    present = {f.id for f in findings}
    ranked = sorted(findings, key=Finding.rank)
    for finding in ranked:
        if not present.intersection(EXPLAINED_BY.get(finding.id, ())):
            return finding
    return ranked[0] if ranked else None
