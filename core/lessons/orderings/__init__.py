"""The orderings lesson: the six orderings of shuffle, batch and repeat, run for real on
tf.data.Dataset.range(n) and described from what tf.data produced.

    run.py     runs them (tf.data) and puts each result together
    facts.py   the batches, epochs, coverage and measured facts (plain Python)
    judge.py   the verdict from the facts, as typed observations (no prose)
    render.py  the observations, verdicts and whole report in words
"""

from core.lessons.orderings.judge import RATINGS
from core.lessons.orderings.render import render_text
from core.lessons.orderings.run import (
    ORDERINGS, OrderingResult, OrderingsReport, analyse, check_arguments, produce_batches, run_orderings,
)

__all__ = [
    "ORDERINGS", "RATINGS", "OrderingResult", "OrderingsReport", "analyse", "check_arguments", "produce_batches",
    "render_text", "run_orderings",
]
