"""Rules about what the model is fed: inputs not normalised, inputs drowned in noise."""

from __future__ import annotations

import math

from core.doctor import thresholds as T
from core.doctor.context import input_stats, noise_like
from core.doctor.derived import SATURATING, hidden_activation, kernel_gains, saturated_share
from core.doctor.evidence import finite, fmt, median, pct
from core.doctor.findings import Verdict
from core.doctor.view import RunView
from core.schema.tags import ACCURACY, ACTIVATIONS, GRAD_NORM, INPUT_MAX, INPUT_STD, KERNEL, LOSS


def _onset(view: RunView) -> int:
    steps, _ = view.tail(INPUT_STD, T.WINDOW)
    return int(steps[0]) if steps.size else view.upto


def check_input_scale(view: RunView) -> Verdict | None:
    stats = input_stats(view)
    if stats is None:
        return None if view.has(INPUT_MAX) else _inputs_large_inferred(view)
    if noise_like(stats):
        return None
    raw = stats["max"] >= T.INPUT_RAW_MAX and stats["min"] >= T.INPUT_RAW_MIN
    if not raw and stats["std"] < T.INPUT_LARGE_STD and abs(stats["mean"]) < T.INPUT_LARGE_STD:
        return None
    described = f"input batches range {fmt(stats['min'])} to {fmt(stats['max'])}, mean {fmt(stats['mean'])}, std {fmt(stats['std'])}"
    what = " (raw 0-255 pixel values)" if raw and T.INPUT_BYTE_MAX_LOW <= stats["max"] <= T.INPUT_BYTE_MAX_HIGH else ""
    return Verdict(
        severity="critical" if stats["max"] >= T.INPUT_CRITICAL_MAX else "warning",
        step=_onset(view),
        layers=("input",),
        evidence=f"{described}{what}; expected [0, 1] or mean 0 / std 1",
        explanation=(
            "The first layer's pre-activations scale with the inputs: pixels 255x too large make them 255x too "
            "large, so the logits, the loss and the gradients explode (or sigmoids saturate) from the first step, "
            "and no learning rate suits every layer. Scale pixels to [0, 1] or standardise them."
        ),
        fixes=("normalize",),
        confidence=0.9,
    )


def check_input_noise(view: RunView) -> Verdict | None:
    signs = []
    stats = input_stats(view)
    if stats is not None and noise_like(stats):
        noise = math.sqrt(max(stats["std"] ** 2 - T.CLEAN_PIXEL_STD**2, 0.0))
        signs.append(
            f"training inputs range {fmt(stats['min'])} to {fmt(stats['max'])} with std {fmt(stats['std'])}, "
            f"symmetric about {fmt(stats['mean'])}: noise of std ~{noise:.1f} on pixels whose own std is "
            f"~{T.CLEAN_PIXEL_STD} (look at the input images)"
        )
    gap = _train_below_test(view)
    if gap:
        signs.append(gap)
    if not signs:
        return None
    return Verdict(
        severity="warning",
        step=_onset(view),
        layers=("input",),
        evidence="; ".join(signs),
        explanation=(
            "Noise much larger than the signal hides the digits: the model sees mostly static in training and "
            "fits the noise, so training accuracy stays low. The clean test images are easier than the training "
            "images, which is why test accuracy beats training accuracy. Noise can regularise, but only at a "
            "scale well below the data's own spread."
        ),
        fixes=("no_noise",),
        confidence=0.9 if len(signs) == 2 else (0.8 if stats is not None else 0.6),
    )


def _train_below_test(view: RunView) -> str:
    val_steps, val = view.val_tail(ACCURACY, 3)
    if not val.size or not math.isfinite(val[-1]) or not view.has(ACCURACY):
        return ""
    if ACCURACY in view.history.facts.running_means:
        return ""  # running means over the epoch so far lag the test accuracy early in each epoch
    steps, acc = view.tail(ACCURACY, T.WINDOW)
    if steps.size < view.min_records or steps[-1] < val_steps[-1] - 5 * T.WINDOW:
        return ""
    if not view.per_epoch and val_steps[-1] < view.first_step() + 2 * T.WINDOW and val_steps[-1] < view.upto:
        return ""  # one or two updates in: nothing to compare yet (an evaluation at the run's end is not early)
    _, loss = view.tail(LOSS, T.WINDOW)
    if loss.size and median(loss) > T.NOISE_STABLE_LOSS * view.chance_loss:
        return ""  # unstable training, not noisy inputs
    train = float(median(acc[-T.NOW_RECORDS:]))  # now: the last few records (epoch means reach back far)
    test = float(val[-1])
    if test - train < T.TRAIN_BELOW_TEST:
        return ""
    return f"training batch accuracy {pct(train)} while test accuracy is {pct(test)} (step {val_steps[-1]})"


def _inputs_large_inferred(view: RunView) -> Verdict | None:
    """Logs without input statistics: signs that the inputs, not the init, are too large.

    - a loss far above chance before any update, while every kernel starts variance-scaled
      (then only large inputs can make the logits huge);
    - the first hidden layer saturated or dead in its activation histogram while the next is not;
    - the first kernel's gradient (x^T delta, proportional to the inputs) dwarfing the next one's.
    Training data noisier than the test data is input noise, not scale: left to check_input_noise.
    """
    if _train_below_test(view):
        return None
    signs = []
    steps, loss = view.head(LOSS)
    gains = kernel_gains(view)
    sane = bool(gains) and all(gain <= T.SANE_INIT_GAIN for _, gain, _ in gains)
    if loss.size and math.isfinite(loss[0]) and loss[0] >= T.EXPLODE_LOSS and sane:
        when = (f"the first epoch's mean loss is {fmt(loss[0])}" if view.per_epoch else
                f"loss {fmt(loss[0])} at step {steps[0]}, before any update could matter,")
        signs.append(f"{when} although every kernel starts variance-scaled (std x sqrt(fan in) <= "
                     f"{T.SANE_INIT_GAIN}, from {gains[0][2]}): only large inputs make the logits that large")
    first_only = _first_layer_alone_saturated(view)
    if first_only:
        signs.append(first_only)
    ladder = [(layer, tag) for layer, tag in view.layered(GRAD_NORM, KERNEL)]
    if len(ladder) >= 3:
        first, second = (float(median(finite(view.head(tag)[1]))) for _, tag in ladder[:2])
        if first > 0 and second > 0 and first / second >= T.INPUT_GRAD_DOMINANCE:
            signs.append(f"{ladder[0][0]} kernel gradient norm {fmt(first)} at the start, {first / second:.1f}x "
                         f"{ladder[1][0]}'s ({fmt(second)}; healthy nets: under ~4x): the first kernel's gradient is "
                         "x^T delta, so it grows with the inputs")
    if not signs:
        return None
    return Verdict(
        severity="critical",
        step=view.first_step(),
        layers=("input",),
        evidence="inferred (no input statistics logged; input/max would settle it): " + "; ".join(signs),
        explanation=(
            "The first layer's pre-activations scale with the inputs: pixels 255x too large make them 255x too "
            "large, so the logits, the loss and the gradients explode (or sigmoids saturate) from the first step, "
            "and no learning rate suits every layer. Scale pixels to [0, 1] or standardise them."
        ),
        fixes=("normalize",),
        confidence=min(0.8, T.CONFIDENCE_INFERRED + 0.1 * (len(signs) - 1)),
    )


def _first_layer_alone_saturated(view: RunView) -> str:
    """The first hidden layer's activations pinned (at asymptotes, or all zero) at the start while
    the second's are not: what drives the first layer is too large, and that is the input."""
    hidden = view.hist_layered(ACTIVATIONS, hidden_only=True)
    if len(hidden) < 2:
        return ""
    kind = hidden_activation(view)
    (first, first_tag), (second, second_tag) = hidden[:2]
    a, b = view.hists(first_tag), view.hists(second_tag)
    if not a or not b or kind not in SATURATING:
        return ""
    pinned, other = saturated_share(a[0], kind), saturated_share(b[0], kind)
    if pinned >= T.SATURATED_FRACTION and other < T.SATURATED_FRACTION / 2:
        return (f"{pct(pinned)} of {first}'s {kind} outputs sit at an asymptote at step {a[0].step} while only "
                f"{pct(other)} of {second}'s do: the first layer alone is driven far too hard")
    return ""