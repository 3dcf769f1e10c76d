"""Place a run's scalar tags into History.train / History.val by what they mean: first the
user's `--tag ROLE=TAG`, then tags whose words name a role outright (`metrics/loss`,
`Loss/train`, `test_acc`), then tags that name it among other words (`final_test_acc`) where
no better tag did, then by content where no name says it (a scalar that starts near ln K and
falls is a loss; one in [0, 1] that moves against the loss is an accuracy).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from core.schema.history import History, Series
from core.schema.tags import ACCURACY, LOSS, chance_loss
from core.tensorboard import tag_styles
from core.tensorboard.reading.decode import RawHalf, RawScalars
from core.tensorboard.reading.names import printable
from core.tensorboard.vocabulary import names_a_quantity
from core.tensorboard.reading.roles import BY_CONTENT, BY_NAME, BY_USER, BY_WORDS, TEST, Role, is_role, role_name

CONTENT_MIN_RECORDS = 5  # a role is read from content only with this many values to go by
LOSS_START_BAND = (0.6, 1.6)  # x ln K: where an untrained classifier's cross-entropy starts
AGAINST_LOSS = -0.5  # rank correlation with the loss below which a [0, 1] series is an accuracy


@dataclass
class _Pending:
    rank: int  # 0 user, 1 named outright, 2 + n named among n other words, 9 kept as is
    half: str
    tag: str
    written: RawScalars
    target: tag_styles.ScalarTarget
    how: str


def add_scalars(history: History, halves: dict[str, RawHalf], style: str, per_batch: bool,
                marks: list[tuple[float, int]], roles: list[Role], overrides: Mapping[str, str]) -> None:
    """Every scalar of both halves into history, each Role it fills appended to roles."""
    pending = sorted(_targets(halves, style, per_batch, overrides, history.warnings), key=lambda p: p.rank)
    for item in pending:
        target = item.target
        if item.rank >= 2 and _slot(history, target).get(target.name) is not None:
            target = tag_styles.ScalarTarget(target.section, item.tag, target.epoch_stepped)  # a better tag has it
        target = _end_of_run_test_value(history, item, target)
        steps = item.written.steps
        if per_batch and target.epoch_stepped:
            steps = tag_styles.place_at_iterations(item.written.wall_times, marks)
        section = _slot(history, target)
        final = _claim(section, target.name, item.tag, target.section, history.warnings, quiet=item.rank >= 2)
        section[final] = Series(steps=list(steps), values=list(item.written.values))
        how = item.how if final == target.name else BY_NAME
        roles.append(Role(role_name(target.section == tag_styles.VAL, final), item.tag, how))


def add_roles_by_content(history: History, roles: list[Role], classes: int | None = None) -> None:
    """After the histograms are read (`classes`: the output layer's units they show, if any): the
    loss and the accuracy a log names nowhere, read from what they hold; percent accuracies as fractions."""
    _roles_by_content(history, roles, classes)
    _accuracies_as_fractions(history, roles)


def _targets(halves, style, per_batch, overrides, warnings) -> list[_Pending]:
    forced = {tag: role for role, tag in overrides.items()}
    found = set()
    pending = []
    for half, raw in halves.items():
        for tag, written in raw.scalars.items():
            target = tag_styles.map_scalar(tag, half, style, per_batch)
            rank, how = (1, BY_WORDS) if target.name != tag_styles.strip_scopes(tag) else (1, BY_NAME)
            if tag in forced:
                found.add(tag)
                role = forced[tag]
                section = tag_styles.VAL if role.startswith(TEST) else tag_styles.TRAIN
                target, rank, how = tag_styles.ScalarTarget(section, role.removeprefix(TEST), target.epoch_stepped), 0, BY_USER
            elif role_name(target.section == tag_styles.VAL, target.name) in overrides:
                target, rank = tag_styles.ScalarTarget(half, tag, target.epoch_stepped), 9  # the user chose another
            elif not is_role(target.name) and (candidate := tag_styles.scalar_candidate(tag, half)):
                target, rank, how = candidate[0], 2 + candidate[1], BY_WORDS
            pending.append(_Pending(rank, half, tag, written, target, how))
    histogram_tags = {tag for raw in halves.values() for tag in raw.histograms}
    for role, tag in overrides.items():
        if tag not in found and tag not in histogram_tags:
            warnings.append(f"--tag {role}={printable(tag)}: no scalar or histogram {printable(tag)} in this run")
    return pending


def _slot(history: History, target: tag_styles.ScalarTarget) -> dict[str, Series]:
    return history.val if target.section == tag_styles.VAL else history.train


def _end_of_run_test_value(history: History, item: _Pending, target):
    """One value of a metric logged beside the training series, at its end (`accuracy` written
    once after training, in the same folder): the test-set value, when the test slot is free."""
    taken = history.train.get(target.name)
    if (target.section == tag_styles.TRAIN and target.name in (LOSS, ACCURACY) and taken is not None
            and len(item.written.steps) == 1 and len(taken.steps) > 1
            and item.written.steps[0] >= taken.steps[-1] and target.name not in history.val):
        return tag_styles.ScalarTarget(tag_styles.VAL, target.name)
    return target


def _claim(section: dict, name: str, raw_tag: str, half: str, warnings: list[str], quiet: bool = False) -> str:
    """name if still free in section; else the raw tag (two tags mapped to one name), with a warning."""
    if name not in section:
        return name
    if not quiet:
        warnings.append(f"{half} scalar {printable(raw_tag)} also maps to {name}, which another tag fills; "
                        f"kept as {printable(raw_tag)}")
    return raw_tag


def _roles_by_content(history: History, roles: list[Role], classes: int | None) -> None:
    """The loss and the accuracy of a log that names neither, recognised by what they hold."""
    # A tag whose words name some other quantity (`l2_loss`, `step_time_ms`...) is not a candidate.
    unplaced = [tag for tag in history.train if not is_role(tag) and not names_a_quantity(_source(roles, tag))]
    if LOSS not in history.train:
        found = [tag for tag in unplaced if _starts_near_ln_k_and_falls(history, tag, unplaced, classes)]
        if len(found) == 1:
            _rename(history, roles, found[0], LOSS)
            unplaced.remove(found[0])
    if ACCURACY not in history.train and LOSS in history.train:
        loss = history.train[LOSS]
        found = [tag for tag in unplaced if _against(history.train[tag], loss)]
        if len(found) == 1:
            _rename(history, roles, found[0], ACCURACY)


def _classes(history: History, shown: int | None) -> int | None:
    """K as the log shows it: stated, from the class balance, or the output layer's units."""
    balance = history.facts.class_balance
    known = history.facts.num_classes or (balance.num_classes if balance is not None else None) or shown
    return known if known and known >= 2 else None


def _starts_near_ln_k_and_falls(history: History, tag: str, others: list[str], shown: int | None) -> bool:
    """The series starts near ln K and falls. K unknown (no output layer, no stated classes):
    K ~ 1 / the first value of a [0, 1] series that moves against this one (an untrained
    classifier's accuracy is ~1/K), so a loss is only read by content beside its accuracy."""
    series = history.train[tag]
    known = _classes(history, shown)
    guesses = [known] if known else [_k_from_accuracy(history.train[o]) for o in others
                                     if o != tag and _against(history.train[o], series)]
    return any(k and _starts_near_and_falls(series, *(b * chance_loss(k) for b in LOSS_START_BAND)) for k in guesses)


def _k_from_accuracy(series: Series) -> int | None:
    values = np.asarray(series.values[:CONTENT_MIN_RECORDS], dtype=np.float64)
    values = values[np.isfinite(values)]
    first = float(values[0]) if values.size else 0.0  # before it learned anything
    return round(1 / first) if 0 < first <= 0.5 else None


def _starts_near_and_falls(series: Series, low: float, high: float) -> bool:
    values = np.asarray(series.values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size < CONTENT_MIN_RECORDS or values.min() < 0:
        return False
    tail = float(np.median(values[-max(2, values.size // 4):]))
    return low <= values[0] <= high and tail < values[0] * 0.9


def _against(series: Series, loss: Series) -> bool:
    """Values in [0, 1] whose ranks move against the loss's at the steps both logged."""
    at = dict(zip(loss.steps, loss.values))
    pairs = np.asarray([(v, at[s]) for s, v in zip(series.steps, series.values) if s in at], dtype=np.float64)
    if pairs.size == 0:
        return False
    pairs = pairs[np.isfinite(pairs).all(axis=1)]
    if len(pairs) < CONTENT_MIN_RECORDS or pairs[:, 0].min() < 0 or pairs[:, 0].max() > 1:
        return False
    ranks = np.stack([np.unique(pairs[:, i], return_inverse=True)[1] for i in (0, 1)], axis=1).astype(np.float64)
    if ranks[:, 0].std() == 0 or ranks[:, 1].std() == 0:  # a constant moves with nothing
        return False
    return float(np.corrcoef(ranks[:, 0], ranks[:, 1])[0, 1]) <= AGAINST_LOSS


def _source(roles: list[Role], key: str) -> str:
    return next((r.tag for r in roles if r.role == key), key)


def _rename(history: History, roles: list[Role], tag: str, role: str) -> None:
    history.train[role] = history.train.pop(tag)
    source = _source(roles, tag)
    roles[:] = [r for r in roles if r.role != tag] + [Role(role, source, BY_CONTENT)]
    history.warnings.append(f"{printable(source)} read as the {role} from what it holds (no tag is named so)")


def _accuracies_as_fractions(history: History, roles: list[Role]) -> None:
    """An accuracy logged in percent (0..100) is read as a fraction; one that is neither is no accuracy."""
    for section, prefix in ((history.train, ""), (history.val, TEST)):
        series = section.get(ACCURACY)
        if series is None:
            continue
        finite = [v for v in series.values if math.isfinite(v)]
        if not finite or (min(finite) >= -0.01 and max(finite) <= 1.01):
            continue
        source = next((r.tag for r in roles if r.role == prefix + ACCURACY), ACCURACY)
        if min(finite) >= 0 and max(finite) <= 100:
            series.values = [v / 100 for v in series.values]
            history.warnings.append(f"{printable(source)}: values up to {max(finite):g}, read as a percentage")
            continue
        section[source] = section.pop(ACCURACY)  # a count, or not an accuracy at all: kept under its own name
        roles[:] = [r for r in roles if r.role != prefix + ACCURACY] + [Role(prefix + source, source, BY_NAME)]
        history.warnings.append(f"{printable(source)}: values outside [0, 1] and not a percentage; not read as an accuracy")
