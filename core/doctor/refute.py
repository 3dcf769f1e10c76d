"""What each cause must leave in the data, checked against the log: a finding whose
consequences the log contradicts is dropped and listed as "considered and ruled out".

A rule's check looks for signs of its cause; these functions look for the opposite, the
signs its cause cannot coexist with:

  loss_at_chance    a net that learned nothing scores chance on the test set
  lr_too_low        small steps still move every kernel a little, and never make much progress
  loss_floor        probabilities fed to a logits loss cannot go below ln(1 + (K-1)/e), and
                    their `logits` histogram cannot hold negative values (Keras 3 undoes a
                    softmax before from_logits=True, so the config alone proves nothing)
  dead_relu         a ReLU-only failure: the hidden units must be ReLUs
  saturated         a sigmoid/tanh failure: the hidden units must not be ReLUs
  input_noise       noisy inputs must have a large input std, and cost more than clean test images
  input_scale       raw inputs must have a large input max (the check itself reads it)
  blocking causes   nothing learns (stuck at chance, vanishing, symmetric init, tiny steps,
                    labels without information): the test accuracy cannot be high
  the run's fixes   a cause the run's own fix removed (--fix no_noise, --fix logits, ...)

Each returns the reason in the log's numbers, or "" when the log does not contradict it.
"""

from __future__ import annotations

import math
from bisect import bisect_right

import numpy as np

from core.doctor import thresholds as T
from core.doctor.context import activation_kind, input_stats, loss_progress
from core.doctor.derived import SATURATING, hidden_activation, weight_movements
from core.doctor.evidence import finite, fmt, hist_range, pct
from core.doctor.view import RunView
from core.schema.tags import ACCURACY, DEAD_FRACTION, LOGITS, LOSS, SATURATED_FRACTION, UPDATE_RATIO, softmax_floor

# The fix that removes each cause: a run that applied it cannot have that cause.
REMOVED_BY_FIX = {
    "loss_floor": "logits",
    "input_noise": "no_noise",
    "input_scale": "normalize",
    "shuffled_labels": "shuffle_labels_off",
    "symmetric_init": "init",
    "saturated": "activation",
}
# Causes that stop a net from learning the digits at all (measured test accuracy on the
# foreign suite's runs of these causes: at most 0.33, saturated at most 0.72).
BLOCKING = ("loss_at_chance", "vanishing", "symmetric_init", "lr_too_low", "shuffled_labels", "saturated")


def run_fixes(view: RunView) -> set[str]:
    """The fixes the run itself applied (tblab watch/run record them), as names."""
    return set(view.history.facts.fixes)


def fixed(finding_id: str, view: RunView) -> str:
    fix = REMOVED_BY_FIX.get(finding_id)
    if fix and fix in run_fixes(view):
        return f"the run applied --fix {fix}, which removes this cause"
    return ""


def learned(finding_id: str, view: RunView) -> str:
    """A test accuracy no blocked net reaches."""
    if finding_id not in BLOCKING:
        return ""
    steps, values = view.val_tail(ACCURACY, 1)
    if not values.size or not math.isfinite(values[-1]):
        return ""
    if values[-1] < T.LEARNED_TEST_ACCURACY:
        return ""
    return (f"test accuracy {pct(float(values[-1]))} at {view.unit} {int(steps[-1])}: a net that cannot learn "
            f"the digits stays far below {pct(T.LEARNED_TEST_ACCURACY)}")


def above_chance(view: RunView) -> str:
    """A net that learned nothing about the images scores chance on the test set."""
    steps, values = view.val_tail(ACCURACY, 1)
    if not values.size or not math.isfinite(values[-1]):
        return ""
    if values[-1] <= view.chance_accuracy + T.CHANCE_ACCURACY_MARGIN:
        return ""
    return (f"test accuracy {pct(float(values[-1]))} at {view.unit} {int(steps[-1])}, above the "
            f"{pct(view.chance_accuracy)} of a net that learned nothing about the images")


def weights_move(view: RunView) -> str:
    """Small steps move every kernel a little; not one weight changing is no gradient at all."""
    if view.layered(UPDATE_RATIO):
        return ""  # measured step sizes: the rule read them
    moved = weight_movements(view)
    if moved and max(m for _, m, _ in moved) == 0 and max(span for _, _, span in moved) > 0:
        return (f"not one kernel weight changed over {max(span for _, _, span in moved)} {view.unit}s: no gradient "
                "reaches the kernels, and a small learning rate would still move them a little")
    return ""


def made_progress(view: RunView) -> str:
    """Steps too small to train leave the loss near its start; an early call the run then outgrew
    (a sigmoid net's slow start) is contradicted by the progress the log shows by its end."""
    progress = loss_progress(view)
    if progress is None or progress[2] < T.LR_LOW_PROGRESS:
        return ""
    first, now, gained, steps, _ = progress
    return (f"the loss went {fmt(first)} -> {fmt(now)} ({pct(gained)} of its start) by {view.unit} {int(steps[-1])}: "
            "steps too small to train would not have made that progress")


def below_floor(view: RunView) -> str:
    """The loss went lower than probabilities fed to a logits loss allow, or the logits the
    loss was handed were negative: it was given logits."""
    floor = softmax_floor(view.num_classes)
    series = view.history.train.get(LOSS)
    if series is not None:
        values = finite(series.values[: bisect_right(series.steps, view.upto)])
        if values.size and float(values.min()) < floor - T.FLOOR_MARGIN:
            low = float(values.min())
            return (f"the logged loss reaches {low:.3f}, below ln(1 + {view.num_classes - 1}/e) = {floor:.4f}, "
                    "which a loss handed probabilities can never go under")
    snaps = [s for s in view.hists(LOGITS) if np.all(np.isfinite(s.edges))]
    if snaps:
        low = min(hist_range(s)[0] for s in snaps)
        if low < -T.FLOOR_MARGIN:
            return f"the logits histogram reaches {fmt(low)}: the loss is handed logits, not probabilities in [0, 1]"
    return ""


def not_relu(view: RunView) -> str:
    if view.layered(DEAD_FRACTION):
        return ""  # measured dead units (tblab counts them for ReLU-like units only)
    kind = hidden_activation(view)
    if kind in SATURATING:
        return f"the hidden units are {kind}, not ReLU: a {kind} unit is never exactly 0 on every input"
    return ""


def relu_units(view: RunView) -> str:
    if view.layered(SATURATED_FRACTION):
        return ""  # measured saturation (tblab measures it on sigmoid/tanh units only)
    if hidden_activation(view) == "relu" or activation_kind(view) == "relu":
        return "the hidden units are ReLU, which have no upper asymptote to saturate at"
    return ""


def clean_inputs(view: RunView) -> str:
    stats = input_stats(view)
    if stats is not None and stats["std"] < T.NOISE_MIN_STD:
        return (f"the training inputs have std {fmt(stats['std'])} (range {fmt(stats['min'])} to "
                f"{fmt(stats['max'])}): noise large enough to drown the digits would make it >= {T.NOISE_MIN_STD:g}")
    return ""


def noisier_training(view: RunView) -> str:
    """Training inputs drowned in noise cost more than the clean test images: the training loss
    sits above the test loss."""
    _, test = view.val_tail(LOSS, 1)
    _, train = view.tail(LOSS, T.NOW_RECORDS)
    train = finite(train)
    if not test.size or not math.isfinite(test[-1]) or not train.size:
        return ""
    now = float(np.median(train))
    if now > test[-1]:
        return ""
    return (f"the training loss ({fmt(now)}) is not above the test loss ({fmt(float(test[-1]))}): training inputs "
            "noisier than the test images would make it higher")


# finding id -> the checks of what its cause must show in the data
CONSEQUENCES = {
    "loss_at_chance": (above_chance,),
    "loss_floor": (below_floor,),
    "lr_too_low": (weights_move, made_progress),
    "dead_relu": (not_relu,),
    "saturated": (relu_units,),
    "input_noise": (clean_inputs, noisier_training),
}


def refutation(finding_id: str, view: RunView) -> str:
    """Why the log contradicts the finding, or "" when it does not."""
    for check in CONSEQUENCES.get(finding_id, ()):
        reason = check(view)
        if reason:
            return reason
    return fixed(finding_id, view) or learned(finding_id, view)
