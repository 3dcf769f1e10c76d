"""The rule registry: every check the doctor runs, the tags each one needs, and which
findings explain which (so the root cause, not a symptom, is named first)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from core.doctor.findings import Finding, RuledOut, Verdict
from core.doctor.refute import refutation
from core.doctor.rules_chance import check_loss_at_chance
from core.doctor.rules_curve import check_loss_flat, check_overfitting
from core.doctor.rules_exploding import check_exploding
from core.doctor.rules_floor import check_loss_floor
from core.doctor.rules_input import check_input_noise, check_input_scale
from core.doctor.rules_labels import check_shuffled_labels
from core.doctor.rules_lr import check_lr_too_high, check_lr_too_low
from core.doctor.rules_nonfinite import check_nonfinite
from core.doctor.rules_units import check_dead_relu, check_saturated, check_symmetric_init
from core.doctor.rules_vanishing import check_vanishing
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

    def run(self, view: RunView) -> Finding | RuledOut | None:
        """The rule's finding on this view, named by the rule; RuledOut when the log
        contradicts what its cause must show (core/doctor/refute.py); or None."""
        verdict = self.check(view)
        if verdict is None:
            return None
        reason = refutation(self.id, view)
        if reason:
            return RuledOut(self.id, self.title, reason)
        return replace(verdict, evidence=measured_only(verdict.evidence)).named(self.id, self.title)


_UNMEASURED = re.compile(r"(?<![A-Za-z])nan%?(?![A-Za-z])")


def measured_only(evidence: str) -> str:
    """The evidence without the clauses that quote a value that was not measured (a `nan`)."""
    if not _UNMEASURED.search(evidence):
        return evidence
    parts = re.split(r"(; |, )", evidence)
    kept = "".join(p for p in _rejoin(parts) if not _UNMEASURED.search(p))
    return kept.strip(";, ")


def _rejoin(parts: list[str]) -> list[str]:
    """Clauses with the separator that follows each."""
    return ["".join(parts[i:i + 2]) for i in range(0, len(parts), 2)]


KERNEL_GRAD_NORMS = layer_tag(GRAD_NORM, "*", KERNEL)
OUTPUT_BIAS_GRAD_NORM = layer_tag(GRAD_NORM, OUTPUT_LAYER, BIAS)

# Patterns: a train scalar glob; "hist:" a histogram glob; "val:" a test-set scalar; "meta:" a
# fact the reader recovered (meta:model is the model's own config, written by Keras' callback).
# needs_text names the one tag that would let a skipped check run.
RULES: tuple[Rule, ...] = (
    Rule("nonfinite", "Non-finite loss or weights (NaN/Inf)",
         (LOSS, NONFINITE_COUNT, f"hist:{WEIGHTS}/*", f"hist:{GRADIENTS}/*", "meta:nonfinite_histograms"),
         "a `loss` scalar", check_nonfinite, sticky=True),
    Rule("exploding", "Exploding activations or gradients",
         (f"{ACTIVATION_STD}/*", KERNEL_GRAD_NORMS, LOSS, f"hist:{WEIGHTS}/*"),
         "per-layer gradient norms `grad_norm/<layer>/kernel`", check_exploding),
    Rule("vanishing", "Vanishing gradients",
         (KERNEL_GRAD_NORMS, f"hist:{GRADIENTS}/*", f"hist:{WEIGHTS}/*", "meta:model"),
         "per-layer gradient norms `grad_norm/<layer>/kernel`", check_vanishing),
    Rule("symmetric_init", "Weights start identical (e.g. all zero)",
         (layer_tag(WEIGHT_NORM, "*", KERNEL), f"hist:{WEIGHTS}/*", "meta:model"),
         "weight histograms from step 0 (`weights/<layer>/kernel`)", check_symmetric_init),
    Rule("dead_relu", "Dead ReLU units",
         (f"{DEAD_FRACTION}/*", KERNEL_GRAD_NORMS, f"hist:{ACTIVATIONS}/*", f"hist:{WEIGHTS}/*", "meta:model"),
         "the share of dead units `dead_fraction/<layer>`", check_dead_relu),
    Rule("saturated", "Saturated sigmoid/tanh units",
         (f"{SATURATED_FRACTION}/*", f"hist:{ACTIVATIONS}/*", f"hist:{WEIGHTS}/*", "meta:model"),
         "per-layer activation histograms `activations/<layer>`", check_saturated),
    Rule("loss_at_chance", "Loss stuck at chance", (LOSS,), "a `loss` scalar", check_loss_at_chance),
    Rule("loss_floor", "Loss floor: probabilities fed to a loss that expects logits",
         (OUTPUT_BIAS_GRAD_NORM, ACCURACY, "hist:logits", "meta:model"),
         "an `accuracy` scalar next to the loss", check_loss_floor),
    Rule("input_scale", "Inputs not normalised",
         (INPUT_MAX, LOSS, f"hist:{ACTIVATIONS}/*", KERNEL_GRAD_NORMS),
         "input batch statistics `input/max`", check_input_scale),
    Rule("input_noise", "Training inputs drowned in noise", (INPUT_STD, f"val:{ACCURACY}"),
         "a test-set `accuracy` beside the training one", check_input_noise),
    Rule("lr_too_high", "Learning rate too high", (f"{UPDATE_RATIO}/*", LOSS),
         "a `loss` scalar", check_lr_too_high),
    Rule("lr_too_low", "Learning rate too low", (f"{UPDATE_RATIO}/*", f"hist:{WEIGHTS}/*", KERNEL_GRAD_NORMS, LOSS),
         "per-step update sizes `update_ratio/<layer>/kernel`", check_lr_too_low),
    Rule("shuffled_labels", "Labels carry no information about the images", (f"val:{ACCURACY}",),
         "a test-set `accuracy` beside the training one", check_shuffled_labels),
    Rule("overfitting", "Overfitting: the test loss climbs while the training loss falls", (f"val:{LOSS}",),
         "a test-set `loss` evaluated every few hundred steps", check_overfitting),
    Rule("loss_flat", "Loss does not change at all", (LOSS,), "a `loss` scalar", check_loss_flat),
)

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
                       "input_noise", "lr_too_low", "loss_floor", "symmetric_init", "lr_too_high", "shuffled_labels",
                       "loss_flat"),
    "lr_too_low": ("vanishing", "dead_relu", "saturated", "loss_floor", "symmetric_init", "nonfinite", "shuffled_labels",
                   "input_scale", "loss_flat"),
    "shuffled_labels": ("input_noise", "nonfinite"),
    # Memorising labels without information is the extreme of overfitting; unstable steps raise both losses.
    "overfitting": ("shuffled_labels", "nonfinite", "lr_too_high", "exploding"),
    "loss_flat": ("nonfinite", "dead_relu", "symmetric_init"),
}


def primary_finding(findings: list[Finding]) -> Finding | None:
    """The best-ranked finding that no other present finding explains."""
    present = {f.id for f in findings}
    ranked = sorted(findings, key=Finding.rank)
    for finding in ranked:
        if not present.intersection(EXPLAINED_BY.get(finding.id, ())):
            return finding
    return ranked[0] if ranked else None
