"""The `tblab` entry point: the lab with no arguments, headless subcommands otherwise.

Each subcommand lives in tui/commands/<name>.py with `add_parser(subparsers)` and
`run(args) -> int`, so commands stay small and independent.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys

COMMANDS = ["lab", "run", "board", "diagnose", "sweep", "report", "orderings", "experiment", "watch"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tblab", description="A terminal lab for debugging neural-network training.")
    subparsers = parser.add_subparsers(dest="command")
    for name in COMMANDS:
        importlib.import_module(f"tui.commands.{name}").add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")) or argv[0].endswith(".py"):
        argv = ["lab", *argv]  # `tblab --logdir x` or `tblab my_script.py` opens the lab
    args = parser.parse_args(argv)
    from core.system.children import install_exit_handlers

    install_exit_handlers()  # SIGTERM / SIGHUP end a command like Ctrl-C; child processes stop with us
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt as error:
        signum = getattr(error, "signum", signal.SIGINT)
        print(f"tblab: {'interrupted' if signum == signal.SIGINT else f'stopped by {signal.Signals(signum).name}'}", file=sys.stderr)
        return 128 + signum


if __name__ == "__main__":
    sys.exit(main())
