"""The orderings lesson: verdicts must agree with the batches tf.data actually produced."""

from collections import Counter

import pytest

from core.lessons.orderings import ORDERINGS, analyse, produce_batches, render_text, run_orderings
from tui.cli import main

ARGUMENT_SETS = [  # n, batch, buffer (None = n), epochs, seed
    (10, 4, None, 3, 0),
    (12, 4, None, 2, 1),
    (9, 3, 4, 3, 2),
    (7, 10, None, 2, 0),
    (16, 4, 2, 3, 5),
    (20, 6, 64, 2, 7),
]


@pytest.fixture(scope="module", params=ARGUMENT_SETS, ids=lambda a: "n{}-b{}-buf{}-e{}-s{}".format(*a))
def report(request):
    n, batch, buffer, epochs, seed = request.param
    return run_orderings(n=n, batch_size=batch, buffer=buffer, epochs=epochs, seed=seed)


def by_order(report, *order):
    return next(r for r in report.results if r.order == order)


def windows(result, n):
    stream = [v for b in result.batches for v in b.values]
    return [stream[i : i + n] for i in range(0, len(stream), n)]


def test_every_ordering_produces_all_examples_of_every_pass(report):
    assert [r.order for r in report.results] == list(ORDERINGS)
    for result in report.results:
        stream = [v for b in result.batches for v in b.values]
        assert Counter(stream) == Counter(list(range(report.n)) * report.epochs)


def test_facts_match_the_batches(report):
    n, b = report.n, report.batch_size
    for result in report.results:
        facts = result.facts
        assert facts.partial_steps == tuple(x.step for x in result.batches if len(x.values) < b)
        incomplete = tuple(i for i, w in enumerate(windows(result, n), 1) if sorted(w) != list(range(n)))
        assert facts.incomplete_epochs == incomplete
        if result.order.index("shuffle") < result.order.index("repeat"):
            # Nothing mixes passes here, so stream position // n is the pass: recompute straddling from values alone.
            position, straddling = 0, []
            for x in result.batches:
                if position // n != (position + len(x.values) - 1) // n:
                    straddling.append(x.step)
                position += len(x.values)
            assert facts.straddling_steps == tuple(straddling)
            assert facts.early_arrivals == 0


def test_verdicts_follow_from_the_batches(report):
    n, b = report.n, report.batch_size
    for result in report.results:
        verdict, facts = result.verdict, result.facts
        complete = all(sorted(w) == list(range(n)) for w in windows(result, n))
        if verdict.rating == "sensible":
            assert complete and not facts.straddling_steps and not facts.early_arrivals
            assert not verdict.problems
        if not complete:
            first_bad = next(i for i, w in enumerate(windows(result, n), 1) if sorted(w) != list(range(n)))
            assert verdict.rating == "flawed"
            assert f"epoch {first_bad} " in verdict.summary
        runs = b >= 2 and all(all((y - x) % n == 1 for x, y in zip(v.values, v.values[1:])) for v in result.batches)
        shuffle_after_batch = result.order.index("shuffle") > result.order.index("batch")
        if runs and shuffle_after_batch and -(-n // b) > 1:
            assert verdict.rating == "flawed"
            assert any("only whole batches" in p for p in verdict.problems)
        if facts.straddling_steps and complete and not facts.early_arrivals:
            assert verdict.rating != "sensible"


def test_shuffle_batch_repeat_is_sensible_with_a_full_buffer(report):
    result = by_order(report, "shuffle", "batch", "repeat")
    if report.buffer >= report.n:
        assert result.verdict.rating == "sensible", result.verdict
    else:
        assert result.verdict.rating == "caveats"
        assert "local shuffle" in result.verdict.summary
        assert result.facts.max_jump_ahead <= report.buffer - 1
    expected_partials = report.epochs if report.n % report.batch_size else 0
    assert len(result.facts.partial_steps) == expected_partials


def test_shuffle_repeat_batch_straddles_exactly_when_batches_do_not_divide_n(report):
    result = by_order(report, "shuffle", "repeat", "batch")
    assert bool(result.facts.straddling_steps) == (report.n % report.batch_size != 0)
    assert not result.facts.incomplete_epochs
    assert len(result.facts.partial_steps) <= 1  # only the very end of the finite stream
    if result.facts.straddling_steps:
        assert result.verdict.rating in ("caveats", "flawed")


def test_repeat_before_shuffle_mixes_epochs_with_a_large_buffer(report):
    result = by_order(report, "repeat", "shuffle", "batch")
    if report.buffer >= report.n:
        assert result.facts.early_arrivals > 0
        assert result.verdict.rating == "flawed"
        assert "epochs mix" in result.verdict.summary


def test_batch_then_shuffle_keeps_batch_contents(report):
    result = by_order(report, "batch", "shuffle", "repeat")
    groups = {tuple(range(s, min(s + report.batch_size, report.n))) for s in range(0, report.n, report.batch_size)}
    assert {x.values for x in result.batches} == groups
    assert result.verdict.rating == "flawed"


def test_passes_tag_does_not_change_what_tf_data_produces():
    for order in ORDERINGS:
        tagged = produce_batches(order, 9, 4, 5, 3, seed=11)
        plain = produce_batches(order, 9, 4, 5, 3, seed=11, tag_passes=False)
        assert [values for values, _ in tagged] == [values for values, _ in plain]


def test_verdict_is_derived_without_tensorflow_from_a_given_stream():
    # range(4) in two passes where the shuffle handed 1 out twice before 3 was seen: a mixed-epoch stream.
    raw = [([0, 1], [0, 0]), ([1, 2], [1, 0]), ([3, 0], [0, 1]), ([2, 3], [1, 1])]
    result = analyse(("repeat", "shuffle", "batch"), raw, n=4, batch_size=2, buffer=4, epochs=2)
    assert result.facts.incomplete_epochs == (1, 2)
    assert result.coverage[0].repeated == (1,) and result.coverage[0].missing == (3,)
    assert result.verdict.rating == "flawed"
    assert "epoch 1 saw 1 twice and never saw 3" in result.verdict.summary


def test_changing_arguments_changes_what_is_shown():
    base = render_text(run_orderings(n=10, batch_size=4))
    assert render_text(run_orderings(n=11, batch_size=4)) != base
    assert render_text(run_orderings(n=10, batch_size=3)) != base
    assert render_text(run_orderings(n=10, batch_size=4, buffer=2)) != base
    assert base.count("epoch 3") >= 6


def test_cli_prints_all_six_and_rejects_bad_arguments(capsys):
    assert main(["orderings", "--n", "6", "--batch", "4", "--epochs", "2"]) == 0
    out = capsys.readouterr().out
    for order in ORDERINGS:
        assert " → ".join(order) in out
    assert main(["orderings", "--batch", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "batch" in err
