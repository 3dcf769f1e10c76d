"""`tblab orderings`: the six orderings of shuffle, batch and repeat on range(n), as tf.data ran them."""

from __future__ import annotations

import sys


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "orderings",
        help="show what the six shuffle/batch/repeat orderings really produce",
        description="Run all six orderings of shuffle, batch and repeat on tf.data.Dataset.range(N) and show "
        "the batches, epoch boundaries, coverage and a verdict derived from them.",
    )
    p.add_argument("--n", type=int, default=10, help="number of examples: the dataset is range(N) (default: 10)")
    p.add_argument("--batch", type=int, default=4, help="batch size (default: 4)")
    p.add_argument("--buffer", type=int, default=None, help="shuffle buffer size (default: N)")
    p.add_argument("--epochs", type=int, default=3, help="passes of repeat(EPOCHS) (default: 3)")
    p.add_argument("--seed", type=int, default=0, help="shuffle seed (default: 0)")
    p.add_argument("--width", type=int, default=100, help="wrap output at this many columns (default: 100)")
    p.set_defaults(func=run)


def run(args) -> int:
    from core.lessons.orderings import check_arguments

    try:
        check_arguments(args.n, args.batch, args.buffer, args.epochs, args.seed)
        if args.width < 40:
            raise ValueError(f"width must be at least 40, got {args.width}")
    except ValueError as error:
        print(f"tblab orderings: {error}", file=sys.stderr)
        return 2
    from core.lessons.orderings import render_text, run_orderings
    from core.system.tfquiet import import_tensorflow_quietly

    import_tensorflow_quietly()  # core.lessons.orderings imports TensorFlow lazily; keep its start-up lines off the screen

    report = run_orderings(n=args.n, batch_size=args.batch, buffer=args.buffer, epochs=args.epochs, seed=args.seed)
    print(render_text(report, width=args.width))
    return 0
