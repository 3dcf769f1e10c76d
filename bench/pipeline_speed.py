"""How fast does each input pipeline feed the same compiled MNIST-sized SGD step?

    python bench/pipeline_speed.py [--rounds 5] [--steps 300]

Random uint8 images [60000, 784] with int32 labels feed a 784-256-256-10 ReLU MLP
trained by one plain @tf.function SGD step at batch 128. Every variant is checked
first on a small labelled copy (each example once per epoch, images still paired
with their labels, a new order next epoch), then timed in interleaved rounds so
that drift on a shared machine hits all variants alike. Prints a Markdown table.
The measuring lives in core/pipeline_speed.py (the lab runs it too, key p).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from core.lessons.pipeline_speed import measure, render_table


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=300, help="timed steps per variant per round")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps per variant before round 1")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.steps < 1 or args.warmup < 1:
        print("pipeline_speed: --rounds, --steps and --warmup must be >= 1", file=sys.stderr)
        return 2
    result = measure(rounds=args.rounds, steps=args.steps, warmup=args.warmup)
    head, _, rest = render_table(result).partition("\n")
    print(head + "\n")  # the old script printed the header line then a blank line
    print(rest.lstrip("\n"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
