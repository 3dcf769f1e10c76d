"""The six orderings of shuffle, batch and repeat, run for real on tf.data.Dataset.range(n)
and described from what tf.data produced: the batches, epochs, coverage and a verdict.

Two words are kept apart. A *pass* is one run of `repeat` over its input (tf.data's own
truth). An *epoch* is what a training loop counts: the next n examples it consumes. When
nothing mixes, pass k is epoch k; the interesting orderings are those where they differ.
Only `produce_batches` touches TensorFlow; the rest is plain Python the lab can render.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

ORDERINGS: tuple[tuple[str, str, str], ...] = (
    ("shuffle", "batch", "repeat"),
    ("shuffle", "repeat", "batch"),
    ("batch", "shuffle", "repeat"),
    ("batch", "repeat", "shuffle"),
    ("repeat", "shuffle", "batch"),
    ("repeat", "batch", "shuffle"),
)
RATINGS = ("sensible", "caveats", "flawed")
MAX_N, MAX_EPOCHS, MAX_BATCH, MAX_BUFFER = 500, 20, 1000, 100_000

# Marks on an example in the rendered batches (see `legend`).
EARLY, LATE, AGAIN = "+", "-", "*"


@dataclass(frozen=True)
class ProducedBatch:
    """One batch as tf.data produced it."""

    step: int  # 1-based position in the produced stream
    start: int  # 0-based position of its first example in the stream of examples
    values: tuple[int, ...]
    passes: tuple[int, ...]  # 1-based pass of `repeat` each example came from
    epoch: int  # the epoch (window of n examples) holding the batch's first example
    epoch_cuts: tuple[int, ...]  # positions in `values` where a new epoch begins
    partial: bool  # fewer than batch_size examples

    @property
    def straddles(self) -> bool:
        """Holds examples from more than one pass of the data."""
        return len(set(self.passes)) > 1


@dataclass(frozen=True)
class EpochCoverage:
    """Which examples one epoch (n consecutive examples of the stream) saw."""

    epoch: int
    order: tuple[int, ...]
    missing: tuple[int, ...]
    repeated: tuple[int, ...]  # seen more than once within this epoch

    @property
    def complete(self) -> bool:
        return not self.missing and not self.repeated


@dataclass(frozen=True)
class OrderingFacts:
    """Facts measured on the produced stream; the verdict is derived from these only."""

    batch_count: int
    partial_steps: tuple[int, ...]
    partial_sizes: tuple[int, ...]
    straddling_steps: tuple[int, ...]
    incomplete_epochs: tuple[int, ...]
    early_arrivals: int  # examples that came out before an earlier pass had finished
    batches_are_runs: bool  # every batch holds neighbours in original order (mod n)
    distinct_batch_contents: int
    shuffled: bool  # some epoch came out in an order other than 0, 1, 2, ...
    order_changes_between_epochs: bool | None  # None with a single epoch
    shuffle_unit: str  # "example" or "batch": what the shuffle buffer holds
    units_per_pass: int  # examples, or batches, in one pass
    max_jump_ahead: int  # furthest any unit came out ahead of its place in the repeated stream


@dataclass(frozen=True)
class Verdict:
    rating: str  # one of RATINGS
    summary: str  # one sentence
    problems: tuple[str, ...]  # what goes wrong (rating flawed or caveats)
    notes: tuple[str, ...]  # harmless or explanatory observations


@dataclass(frozen=True)
class OrderingResult:
    order: tuple[str, str, str]
    code: str  # the tf.data chain, e.g. "ds.shuffle(10, seed=0).batch(4).repeat(3)"
    batches: tuple[ProducedBatch, ...]
    coverage: tuple[EpochCoverage, ...]
    facts: OrderingFacts
    verdict: Verdict

    @property
    def title(self) -> str:
        return " → ".join(self.order)


@dataclass(frozen=True)
class OrderingsReport:
    n: int
    batch_size: int
    buffer: int
    epochs: int
    seed: int
    results: tuple[OrderingResult, ...]


def check_arguments(n: int, batch_size: int, buffer: int | None, epochs: int, seed: int) -> None:
    """Raise ValueError naming the first bad argument."""
    limits = [("n", n, 1, MAX_N), ("batch", batch_size, 1, MAX_BATCH), ("epochs", epochs, 1, MAX_EPOCHS)]
    if buffer is not None:
        limits.append(("buffer", buffer, 1, MAX_BUFFER))
    for name, value, low, high in limits:
        if not low <= value <= high:
            raise ValueError(f"{name} must be between {low} and {high}, got {value}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")


def chain_code(order, batch_size: int, buffer: int, epochs: int, seed: int) -> str:
    calls = {"shuffle": f"shuffle({buffer}, seed={seed})", "batch": f"batch({batch_size})",
             "repeat": f"repeat({epochs})"}
    return "ds." + ".".join(calls[op] for op in order)


def produce_batches(order, n: int, batch_size: int, buffer: int, epochs: int, seed: int, *,
                    tag_passes: bool = True) -> list[tuple[list[int], list[int] | None]]:
    """Run the ordering on tf.data.Dataset.range(n); a list of (values, 0-based passes) per batch.

    A finite repeat(epochs) stands in for repeat(): the same stream, but it ends.
    With tag_passes, each item is numbered right after `repeat`: repeat emits its passes one
    after another, so position // items-per-pass is the pass. Shuffle picks buffer slots,
    never values, so the tag does not change the order (tests check this). Without it,
    passes come back as None.
    """
    import tensorflow as tf

    ds = tf.data.Dataset.range(n)
    items_per_pass = n
    for op in order:
        if op == "shuffle":
            ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
        elif op == "batch":
            ds = ds.batch(batch_size)
            if "repeat" not in order[: order.index("batch")]:
                items_per_pass = math.ceil(n / batch_size)
        else:
            ds = ds.repeat(epochs)
            if tag_passes:
                ds = ds.enumerate().map(lambda i, x, k=items_per_pass: (i // k, x))
    produced = []
    for item in ds.as_numpy_iterator():
        if tag_passes:
            passes, values = item
            values = [int(v) for v in values]
            passes = [int(p) for p in (passes if getattr(passes, "ndim", 0) else [passes] * len(values))]
        else:
            values, passes = [int(v) for v in item], None
        produced.append((values, passes))
    return produced


def _describe_batches(raw, n: int, batch_size: int) -> tuple[ProducedBatch, ...]:
    batches, position = [], 0
    for step, (values, passes) in enumerate(raw, start=1):
        cuts = tuple(i for i in range(1, len(values)) if (position + i) % n == 0)
        batches.append(ProducedBatch(
            step=step, start=position, values=tuple(values), passes=tuple(p + 1 for p in passes),
            epoch=position // n + 1, epoch_cuts=cuts, partial=len(values) < batch_size,
        ))
        position += len(values)
    return tuple(batches)


def _coverage(stream: list[int], n: int) -> tuple[EpochCoverage, ...]:
    result = []
    for start in range(0, len(stream), n):
        window = stream[start : start + n]
        counts = Counter(window)
        result.append(EpochCoverage(
            epoch=start // n + 1, order=tuple(window),
            missing=tuple(v for v in range(n) if v not in counts),
            repeated=tuple(sorted(v for v, c in counts.items() if c > 1)),
        ))
    return tuple(result)


def _early_arrivals(passes: list[int]) -> int:
    """Examples emitted while some example of an earlier pass was still to come."""
    later_minimum, count = math.inf, 0
    for p in reversed(passes):
        count += p > later_minimum
        later_minimum = min(later_minimum, p)
    return count


def _is_run(values: tuple[int, ...], n: int) -> bool:
    return all((b - a) % n == 1 for a, b in zip(values, values[1:]))


def _max_jump_ahead(order, batches, n: int, batch_size: int, shuffle_unit: str) -> int:
    """How far ahead of its place in the repeated, unshuffled stream any unit came out."""
    jumps = []
    if shuffle_unit == "example":
        stream = [(v, p) for b in batches for v, p in zip(b.values, b.passes)]
        jumps = [(p - 1) * n + v - i for i, (v, p) in enumerate(stream)]
    else:
        batched_per_pass = order.index("batch") < order.index("repeat")
        for i, b in enumerate(batches):
            if batched_per_pass:
                source = (b.passes[0] - 1) * math.ceil(n / batch_size) + b.values[0] // batch_size
            else:
                source = ((b.passes[0] - 1) * n + b.values[0]) // batch_size
            jumps.append(source - i)
    return max(jumps, default=0)


def measure(order, batches: tuple[ProducedBatch, ...], coverage, n: int, batch_size: int) -> OrderingFacts:
    """The facts a verdict may rest on, all counted on the produced batches."""
    passes = [p for b in batches for p in b.passes]
    shuffle_unit = "example" if order.index("shuffle") < order.index("batch") else "batch"
    windows = [c.order for c in coverage]
    return OrderingFacts(
        batch_count=len(batches),
        partial_steps=tuple(b.step for b in batches if b.partial),
        partial_sizes=tuple(sorted({len(b.values) for b in batches if b.partial})),
        straddling_steps=tuple(b.step for b in batches if b.straddles),
        incomplete_epochs=tuple(c.epoch for c in coverage if not c.complete),
        early_arrivals=_early_arrivals(passes),
        batches_are_runs=batch_size >= 2 and all(_is_run(b.values, n) for b in batches),
        distinct_batch_contents=len({frozenset(b.values) for b in batches}),
        shuffled=any(list(w) != list(range(n)) for w in windows),
        order_changes_between_epochs=None if len(windows) < 2 else any(w != windows[0] for w in windows[1:]),
        shuffle_unit=shuffle_unit,
        units_per_pass=n if shuffle_unit == "example" else math.ceil(n / batch_size),
        max_jump_ahead=_max_jump_ahead(order, batches, n, batch_size, shuffle_unit),
    )


def _numbers(values) -> str:
    values = list(values)
    shown = " ".join(str(v) for v in values[:8])
    return shown + (f" … ({len(values)} in all)" if len(values) > 8 else "")


def _count(k: int, one: str, many: str) -> str:
    return f"{k} {one if k == 1 else many}"


def _batch_text(batch: ProducedBatch) -> str:
    return "[" + " ".join(str(v) for v in batch.values) + "]"


def derive_verdict(order, facts: OrderingFacts, batches, coverage, n: int, batch_size: int, buffer: int,
                   epochs: int) -> Verdict:
    """Judge an ordering from its measured facts; the ordering only supplies the 'because'."""
    shuffle_after_repeat = order.index("shuffle") > order.index("repeat")
    shuffle_after_batch = order.index("shuffle") > order.index("batch")
    batch_after_repeat = order.index("batch") > order.index("repeat")
    by_step = {b.step: b for b in batches}
    unit = facts.shuffle_unit
    flawed, caveats, notes = [], [], []

    whole_pass_in_one_batch = unit == "batch" and not batch_after_repeat and math.ceil(n / batch_size) == 1
    if not facts.shuffled:
        if buffer == 1:
            flawed.append(f"never shuffled: every epoch came out as 0, 1, 2, …: a buffer of 1 holds one {unit} "
                          "at a time, so nothing moves.")
        elif whole_pass_in_one_batch:
            flawed.append("never shuffled: every epoch came out as 0, 1, 2, …: each pass is one batch, and a "
                          "shuffle after batch never reorders inside a batch.")
        else:
            plural = "batches" if unit == "batch" else "examples"
            notes.append(f"every epoch came out as 0, 1, 2, …: the shuffle happened to keep the original order "
                         f"of the few {plural} it had.")

    if facts.incomplete_epochs:
        bad = coverage[facts.incomplete_epochs[0] - 1]
        seen = []
        if bad.repeated:
            seen.append(f"saw {_numbers(bad.repeated)} twice")
        if bad.missing:
            seen.append(f"never saw {_numbers(bad.missing)}")
        cause = (f"shuffle comes after repeat, so its buffer holds {'batches' if unit == 'batch' else 'examples'} "
                 "of two passes at once and can hand one out again before others were seen once"
                 if shuffle_after_repeat else "passes of the data overlap")
        flawed.append(f"epochs mix: epoch {bad.epoch} {' and '.join(seen)} "
                      f"({len(facts.incomplete_epochs)} of {len(coverage)} epochs incomplete); {cause}.")
    elif facts.early_arrivals:
        flawed.append(f"epochs mix: {facts.early_arrivals} examples of a later pass came out before an earlier "
                      "pass had finished; here every epoch still happened to see each example once, "
                      "but nothing guarantees it.")

    one_batch_per_pass = math.ceil(n / batch_size) <= 1
    if facts.batches_are_runs and not one_batch_per_pass:
        example = _batch_text(batches[0])
        if shuffle_after_batch:
            again = (f"the same {facts.distinct_batch_contents} groups come back every epoch"
                     if epochs > 1 and facts.distinct_batch_contents <= facts.units_per_pass
                     else f"{facts.distinct_batch_contents} distinct batches in {facts.batch_count}")
            flawed.append(f"only whole batches are shuffled: every batch holds neighbours in their original order "
                          f"(e.g. {example}; {again}); shuffle comes after batch, so it moves whole batches "
                          "and never mixes their contents.")
        elif facts.shuffled:
            notes.append(f"every batch happened to hold neighbours in order (e.g. {example}): "
                         f"with {n} examples that can happen by chance.")

    if facts.straddling_steps:
        step = by_step[facts.straddling_steps[0]]
        straddle = _count(len(facts.straddling_steps), "batch straddles", "batches straddle")
        passes = "+".join(str(p) for p in sorted(set(step.passes)))
        text = f"{straddle} two passes (e.g. step {step.step}: {_batch_text(step)} holds passes {passes})"
        if batch_after_repeat and not flawed:
            caveats.append(f"{text}: repeat comes before batch, so an epoch ends mid-batch; every epoch still "
                           "saw each example once, so this is fine if you count steps, not epochs.")
        else:
            notes.append(text + ".")

    if facts.partial_steps:
        sizes = ", ".join(str(s) for s in facts.partial_sizes)
        where = ("step " if len(facts.partial_steps) == 1 else "steps ") + ", ".join(map(str, facts.partial_steps))
        if batch_after_repeat:
            notes.append(f"only the very last batch is partial (size {sizes}): repeat comes before batch, so the "
                         "remainder runs on into the next epoch; an endless repeat() has none.")
        elif shuffle_after_repeat:
            notes.append(f"{_count(len(facts.partial_steps), 'partial batch', 'partial batches')} (size {sizes}, "
                         f"{where}) land wherever "
                         "the shuffle puts them, not at epoch ends.")
        else:
            notes.append(f"each pass ends with a partial batch (size {sizes}, {where}) because "
                         f"{n} is not a multiple of {batch_size}; harmless for SGD, or use "
                         "batch(..., drop_remainder=True) for fixed-size batches.")

    if facts.shuffled and buffer < facts.units_per_pass:
        caveats.append(f"only a local shuffle: the buffer of {buffer} is smaller than the {facts.units_per_pass} "
                       f"{unit}s in a pass, so no {unit} came out more than {facts.max_jump_ahead} places early "
                       f"(a full shuffle can move one {facts.units_per_pass - 1}).")
    if shuffle_after_batch:
        notes.append(f"after batch, the shuffle buffer counts batches: shuffle({buffer}) holds up to "
                     f"{_count(buffer, 'batch', 'batches')} of {batch_size}.")
    if facts.shuffled and facts.order_changes_between_epochs is False:
        caveats.append("every epoch came out in the same order.")

    if flawed:
        rating, summary = "flawed", flawed[0]
    elif caveats:
        rating, summary = "caveats", caveats[0]
    else:
        rating = "sensible"
        good = [f"every epoch saw all {n} examples exactly once"]
        if facts.order_changes_between_epochs:
            good.append("in a new order each epoch")
        summary = ", ".join(good) + "; no batch straddles two epochs."
    return Verdict(rating=rating, summary=summary, problems=tuple(flawed + caveats), notes=tuple(notes))


def analyse(order, raw, n: int, batch_size: int, buffer: int, epochs: int, seed: int = 0) -> OrderingResult:
    """Describe one ordering's produced batches (from produce_batches with passes tagged) and judge it."""
    batches = _describe_batches(raw, n, batch_size)
    coverage = _coverage([v for b in batches for v in b.values], n)
    facts = measure(order, batches, coverage, n, batch_size)
    verdict = derive_verdict(order, facts, batches, coverage, n, batch_size, buffer, epochs)
    return OrderingResult(order=tuple(order), code=chain_code(order, batch_size, buffer, epochs, seed),
                          batches=batches, coverage=coverage, facts=facts, verdict=verdict)


def run_orderings(n: int = 10, batch_size: int = 4, buffer: int | None = None, epochs: int = 3,
                  seed: int = 0) -> OrderingsReport:
    """All six orderings on range(n); the shuffle buffer defaults to n."""
    check_arguments(n, batch_size, buffer, epochs, seed)
    buffer = n if buffer is None else buffer
    results = tuple(
        analyse(order, produce_batches(order, n, batch_size, buffer, epochs, seed),
                n, batch_size, buffer, epochs, seed)
        for order in ORDERINGS
    )
    return OrderingsReport(n=n, batch_size=batch_size, buffer=buffer, epochs=epochs, seed=seed, results=results)


# ---------------------------------------------------------------- plain-text rendering

RATING_MARKS = {"sensible": "✓ sensible", "caveats": "~ workable, with caveats", "flawed": "✗ flawed"}


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
    verdict = result.verdict
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
    sensible = [r.title for r in report.results if r.verdict.rating == "sensible"]
    footer = "Sensible here: " + (", ".join(sensible) if sensible else "none") + "."
    intro = "\n".join(_wrap(" ".join(header).split(" "), "", width))
    return "\n\n".join([intro, *blocks, footer])
