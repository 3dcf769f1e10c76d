"""Rule about the labels: training accuracy creeps up while test accuracy stays at chance,
so what the net learns is the training labels themselves, not the digits."""

from __future__ import annotations

import math

import numpy as np

from core.doctor import thresholds as T
from core.doctor.evidence import finite, median, pct
from core.doctor.findings import Verdict
from core.doctor.view import RunView
from core.schema.tags import ACCURACY, LOSS


def check_shuffled_labels(view: RunView) -> Verdict | None:
    val_steps, val = view.val_tail(ACCURACY, 3)
    val = finite(val)
    span = T.EPOCH_MIN_SPAN if view.per_epoch else T.CHANCE_MIN_STEPS
    if val.size < 3 or not view.has(ACCURACY) or val_steps[-1] < view.first_step() + span:
        return None  # a slow start also has test accuracy near chance for a while
    # Keras running means (left as such) lag the batches they average and never lead them: a gap
    # they show between training and test accuracy is there.
    chance = view.chance_accuracy
    test = float(median(val))
    if float(np.max(val)) > chance + T.LABELS_TEST_MARGIN:
        return None
    # "Now" is the last few epochs of a per-epoch log, not its last 20.
    window = T.EPOCH_MIN_RECORDS if view.per_epoch else T.WINDOW
    steps, acc = view.tail(ACCURACY, window)
    _, loss = view.tail(LOSS, window)
    if finite(acc).size < view.min_records or (loss.size and not finite(loss).size):
        return None
    train = float(median(acc))
    if not math.isfinite(train) or train < test + T.LABELS_TRAIN_GAP:
        return None
    return Verdict(
        severity="critical",
        step=int(steps[0]),
        layers=(),
        evidence=(
            f"training accuracy {pct(train)} over the last {acc.size} records while test accuracy stays at "
            f"{pct(test)} (chance {pct(chance)}) over the last {val.size} evaluations (steps {val_steps[0]}-"
            f"{val_steps[-1]}): the net memorises training labels that do not generalise at all"
        ),
        explanation=(
            "A net that learns anything real about digits scores above chance on new digits. Training accuracy "
            "that climbs while test accuracy sits exactly at chance means the training labels hold no "
            "information about their images (shuffled separately from them, or misaligned), so all the net can "
            "do is memorise each training image's label. Keep each label with its image."
        ),
        fixes=("shuffle_labels_off",),
        confidence=0.8,
    )
