"""Rules read from the shape of the loss curves: overfitting (the test loss climbs while the
training loss keeps falling) and a loss that does not change at all."""

from __future__ import annotations

import numpy as np

from core.doctor import thresholds as T
from core.doctor.evidence import finite, fmt, median
from core.doctor.findings import Verdict
from core.doctor.view import RunView
from core.schema.tags import LOSS


def check_overfitting(view: RunView) -> Verdict | None:
    """The test loss rose well above its best while the training loss fell over the same steps."""
    val_steps, val = view.val_tail(LOSS, T.TAIL_RECORDS)
    good = np.isfinite(val)
    val_steps, val = val_steps[good], val[good]
    if val.size < T.OVERFIT_MIN_EVALS or not view.has(LOSS):
        return None
    best_index = int(np.argmin(val))
    after = val[best_index + 1:]
    if after.size < T.OVERFIT_RISING_EVALS:
        return None
    best, best_step = float(val[best_index]), int(val_steps[best_index])
    now = float(median(val[-T.OVERFIT_RISING_EVALS:]))
    if now < best * (1 + T.OVERFIT_RISE) or now - best < T.OVERFIT_MIN_NATS:
        return None
    if np.min(after[-T.OVERFIT_RISING_EVALS:]) <= best * (1 + T.OVERFIT_RISE / 2):
        return None  # not a sustained climb: one noisy evaluation
    train_at_best = _train_loss_near(view, best_step)
    _, train_tail = view.tail(LOSS, T.WINDOW)
    train_now = float(median(train_tail))
    if not (train_at_best > 0 and train_now <= train_at_best * (1 - T.OVERFIT_TRAIN_FALL)):
        return None  # the training loss did not keep falling: not overfitting
    return Verdict(
        severity="warning",
        step=best_step,
        layers=(),
        evidence=(
            f"the test loss was lowest at {view.unit} {best_step} ({fmt(best)}) and has climbed to {fmt(now)} by "
            f"{view.unit} {int(val_steps[-1])} (last {T.OVERFIT_RISING_EVALS} evaluations), while the training "
            f"loss fell {fmt(train_at_best)} -> {fmt(train_now)} over the same {view.unit}s"
        ),
        explanation=(
            "The net keeps getting better on the training images and worse on new ones: it is memorising the "
            "training set instead of learning what generalises. More data, weight decay or dropout, a smaller "
            f"net, or simply stopping near {view.unit} {best_step} (early stopping) keep the test loss low."
        ),
        fixes=(),
        confidence=0.8,
    )


def _train_loss_near(view: RunView, step: int) -> float:
    """Median of the training loss over the records closest to `step`."""
    series = view.history.train.get(LOSS)
    if series is None:
        return float("nan")
    steps = np.asarray(series.steps, dtype=np.int64)
    index = int(np.searchsorted(steps, step))
    low, high = max(0, index - T.WINDOW // 2), min(len(steps), index + T.WINDOW // 2 + 1)
    return float(median(np.asarray(series.values[low:high], dtype=np.float64)))


def check_loss_flat(view: RunView) -> Verdict | None:
    """The loss exactly the same on every record for a long stretch: not even batch noise, so
    nothing the loss depends on changes (no update moves anything, or the same value is logged)."""
    steps, loss = view.tail(LOSS)
    span = T.EPOCH_MIN_SPAN * 2 if view.per_epoch else T.FLAT_MIN_STEPS
    least = T.EPOCH_MIN_RECORDS * 2 if view.per_epoch else T.FLAT_MIN_RECORDS
    if loss.size < least or finite(loss).size < loss.size:
        return None
    level = float(loss[-1])
    same = np.abs(loss - level) <= T.FLAT_TOLERANCE * max(1.0, abs(level))
    first = int(np.flatnonzero(~same)[-1]) + 1 if not same.all() else 0
    held = loss.size - first
    if held < least or steps[-1] - steps[first] < span:
        return None
    since = view.held_since(LOSS, lambda v: np.abs(v - level) <= T.FLAT_TOLERANCE * max(1.0, abs(level)))
    since = int(since) if since is not None else int(steps[first])
    return Verdict(
        severity="critical",
        step=since,
        layers=(),
        evidence=(
            f"the loss is exactly {level:.6g} on every record from {view.unit} {since} to {view.upto} "
            f"({held}+ records): not even the batch-to-batch noise every training loss has"
        ),
        explanation=(
            "Each batch holds different images, so even a net that learns nothing shows a loss that wiggles. "
            "A loss that stays exactly the same means nothing it depends on changes: the updates are zero "
            "(learning rate 0, every gradient 0, the optimizer never applied), every output is the same "
            "constant for every image, or the logged value is computed once and logged again."
        ),
        fixes=("init", "lr_up"),
        confidence=0.85,
    )
