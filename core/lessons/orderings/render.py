"""The orderings lesson in words: each observation of the judge as a sentence, the verdict
of one ordering, and the whole report as plain text for the CLI and the lab."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.lessons.orderings.facts import EpochCoverage, ProducedBatch
from core.lessons.orderings.judge import (
    BufferCountsBatches, EpochsMix, EveryEpochComplete, Judgement, LaterPassEarly, LocalShuffle, NeighboursByChance,
    NeverShuffled, Observation, OrderKeptByChance, PartialBatches, Rating, SameOrderEachEpoch, Straddles, WholeBatchesOnly,
)

if TYPE_CHECKING:
    from core.lessons.orderings.run import OrderingResult, OrderingsReport

# Marks on an example in the rendered batches (see `legend`).
EARLY, LATE, AGAIN = "+", "-", "*"
RATING_MARKS = {"sensible": "✓ sensible", "caveats": "~ workable, with caveats", "flawed": "✗ flawed"}


@dataclass(frozen=True)
class OrderingVerdict:
    """A judgement in words."""

    rating: Rating
    summary: str  # one sentence
    problems: tuple[str, ...]  # what goes wrong (rating flawed or caveats)
    notes: tuple[str, ...]  # harmless or explanatory observations


def describe(judgement: Judgement) -> OrderingVerdict:
    return OrderingVerdict(
        rating=judgement.rating,
        summary=say(judgement.outcome),
        problems=tuple(say(o) for o in judgement.flaws + judgement.caveats),
        notes=tuple(say(o) for o in judgement.notes),
    )


def say(observation: Observation) -> str:
    """One observation as a sentence for a learner."""
    match observation:
        case NeverShuffled(unit=unit, because="buffer_of_one"):
            return (f"never shuffled: every epoch came out as 0, 1, 2, …: a buffer of 1 holds one {unit} "
                    "at a time, so nothing moves.")
        case NeverShuffled():
            return ("never shuffled: every epoch came out as 0, 1, 2, …: each pass is one batch, and a "
                    "shuffle after batch never reorders inside a batch.")
        case OrderKeptByChance(unit=unit):
            plural = "batches" if unit == "batch" else "examples"
            return (f"every epoch came out as 0, 1, 2, …: the shuffle happened to keep the original order "
                    f"of the few {plural} it had.")
        case EpochsMix(first_bad=bad, incomplete=incomplete, epochs=epochs):
            seen = ([f"saw {_numbers(bad.repeated)} twice"] if bad.repeated else []) + (
                [f"never saw {_numbers(bad.missing)}"] if bad.missing else [])
            cause = (f"shuffle comes after repeat, so its buffer holds {_plural(observation.unit)} "
                     "of two passes at once and can hand one out again before others were seen once"
                     if observation.shuffle_after_repeat else "passes of the data overlap")
            return f"epochs mix: epoch {bad.epoch} {' and '.join(seen)} ({incomplete} of {epochs} epochs incomplete); {cause}."
        case LaterPassEarly(examples=examples):
            return (f"epochs mix: {examples} examples of a later pass came out before an earlier "
                    "pass had finished; here every epoch still happened to see each example once, "
                    "but nothing guarantees it.")
        case WholeBatchesOnly(example=example, distinct_batches=distinct):
            again = (f"the same {distinct} groups come back every epoch" if observation.same_groups_each_epoch
                     else f"{distinct} distinct batches in {observation.batches}")
            return (f"only whole batches are shuffled: every batch holds neighbours in their original order "
                    f"(e.g. {_batch_text(example)}; {again}); shuffle comes after batch, so it moves whole batches "
                    "and never mixes their contents.")
        case NeighboursByChance(example=example, n=n):
            return (f"every batch happened to hold neighbours in order (e.g. {_batch_text(example)}): "
                    f"with {n} examples that can happen by chance.")
    return _say_batches_and_epochs(observation)


def _say_batches_and_epochs(observation: Observation) -> str:
    """`say` for what batches and epochs held."""
    match observation:
        case Straddles(batches=count, example=step):
            straddle = _count(count, "batch straddles", "batches straddle")
            passes = "+".join(str(p) for p in sorted(set(step.passes)))
            text = f"{straddle} two passes (e.g. step {step.step}: {_batch_text(step)} holds passes {passes})"
            if observation.epoch_ends_mid_batch:
                return (f"{text}: repeat comes before batch, so an epoch ends mid-batch; every epoch still "
                        "saw each example once, so this is fine if you count steps, not epochs.")
            return text + "."
        case PartialBatches(sizes=sizes, steps=steps, where=where):
            sizes_text = ", ".join(str(s) for s in sizes)
            steps_text = ("step " if len(steps) == 1 else "steps ") + ", ".join(map(str, steps))
            if where == "stream_end":
                return (f"only the very last batch is partial (size {sizes_text}): repeat comes before batch, so the "
                        "remainder runs on into the next epoch; an endless repeat() has none.")
            if where == "shuffled":
                return (f"{_count(len(steps), 'partial batch', 'partial batches')} (size {sizes_text}, "
                        f"{steps_text}) land wherever the shuffle puts them, not at epoch ends.")
            return (f"each pass ends with a partial batch (size {sizes_text}, {steps_text}) because "
                    f"{observation.n} is not a multiple of {observation.batch_size}; harmless for SGD, or use "
                    "batch(..., drop_remainder=True) for fixed-size batches.")
        case LocalShuffle(buffer=buffer, units_per_pass=units, unit=unit):
            return (f"only a local shuffle: the buffer of {buffer} is smaller than the {units} "
                    f"{unit}s in a pass, so no {unit} came out more than {observation.max_jump_ahead} places early "
                    f"(a full shuffle can move one {units - 1}).")
        case BufferCountsBatches(buffer=buffer, batch_size=batch_size):
            return (f"after batch, the shuffle buffer counts batches: shuffle({buffer}) holds up to "
                    f"{_count(buffer, 'batch', 'batches')} of {batch_size}.")
        case SameOrderEachEpoch():
            return "every epoch came out in the same order."
        case EveryEpochComplete(n=n, new_order_each_epoch=new_order):
            good = [f"every epoch saw all {n} examples exactly once"] + (["in a new order each epoch"] if new_order else [])
            return ", ".join(good) + "; no batch straddles two epochs."
    raise TypeError(f"no words for {observation!r}")


def _plural(unit: str) -> str:
    return "batches" if unit == "batch" else "examples"


def _numbers(values) -> str:
    values = list(values)
    shown = " ".join(str(v) for v in values[:8])
    return shown + (f" … ({len(values)} in all)" if len(values) > 8 else "")


def _count(k: int, one: str, many: str) -> str:
    return f"{k} {one if k == 1 else many}"


def _batch_text(batch: ProducedBatch) -> str:
    return "[" + " ".join(str(v) for v in batch.values) + "]"


# ---------------------------------------------------------------- plain-text rendering


def marked_values(batch: ProducedBatch, coverage: tuple[EpochCoverage, ...], n: int) -> list[str]:
    """The batch's examples as text tokens, with a `|` token where an epoch begins and marks from `legend`."""
    tokens = []
    for i, (value, pass_) in enumerate(zip(batch.values, batch.passes)):
        position = batch.start + i
        epoch = position // n + 1
        earlier = coverage[epoch - 1].order[: position % n]
        mark = (EARLY if pass_ > epoch else LATE if pass_ < epoch else "") + (AGAIN if value in earlier else "")
        if i in batch.epoch_cuts:
            tokens.append("|")
        tokens.append(f"{value}{mark}")
    return tokens


def legend() -> str:
    return (f"`|` a new epoch begins inside the batch; {EARLY} came early from a later pass of repeat; "
            f"{LATE} came late from an earlier pass; {AGAIN} second time within one epoch.")


def _wrap(pieces: list[str], first_prefix: str, width: int) -> list[str]:
    lines, line = [], first_prefix
    indent = " " * len(first_prefix)
    for piece in pieces:
        if len(line) + len(piece) + 1 > width and line.strip():
            lines.append(line.rstrip())
            line = indent
        line += piece + " "
    lines.append(line.rstrip())
    return lines


def render_ordering(result: OrderingResult, n: int, width: int = 100) -> str:
    lines = [f"{result.title}    {result.code}"]
    by_epoch: dict[int, list[str]] = {}
    for batch in result.batches:
        tokens = marked_values(batch, result.coverage, n)
        by_epoch.setdefault(batch.epoch, []).append("[" + " ".join(tokens) + "]")
    for coverage in result.coverage:
        if coverage.complete:
            seen = f"(all {n} once)"
        else:
            parts = ([f"twice: {_numbers(coverage.repeated)}"] if coverage.repeated else []) + (
                [f"missing: {_numbers(coverage.missing)}"] if coverage.missing else [])
            seen = "(" + "; ".join(parts) + ")"
        pieces = by_epoch.get(coverage.epoch, []) + [seen]
        lines += _wrap(pieces, f"  epoch {coverage.epoch:<2} ", width)
    verdict = describe(result.judgement)
    lines += _wrap(verdict.summary.split(" "), f"  {RATING_MARKS[verdict.rating]}: ", width)
    for text in verdict.problems[1:]:
        lines += _wrap(text.split(" "), "    - ", width)
    for text in verdict.notes:
        lines += _wrap(text.split(" "), "    · ", width)
    return "\n".join(lines)


def render_text(report: OrderingsReport, width: int = 100) -> str:
    """The whole report as plain text, for the CLI and any plain-text pane."""
    header = [
        f"tf.data.Dataset.range({report.n}): batch {report.batch_size}, shuffle buffer {report.buffer}, "
        f"{_count(report.epochs, 'epoch', 'epochs')}, seed {report.seed}.",
        f"An epoch is what a training loop counts: the next {report.n} examples. " + legend(),
    ]
    blocks = [f"{i}. {render_ordering(r, report.n, width)}" for i, r in enumerate(report.results, start=1)]
    sensible = [r.title for r in report.results if r.judgement.rating == "sensible"]
    footer = "Sensible here: " + (", ".join(sensible) if sensible else "none") + "."
    intro = "\n".join(_wrap(" ".join(header).split(" "), "", width))
    return "\n\n".join([intro, *blocks, footer])
