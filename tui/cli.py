"""The `tblab` entry point: the lab with no arguments, headless subcommands otherwise.

Each subcommand lives in tui/commands/<name>.py with `add_parser(subparsers)` and
`run(args) -> int`, so commands stay small and independent.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = ["lab", "run", "board", "diagnose", "sweep", "report", "orderings", "experiment", "watch"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tblab", description="A terminal lab for debugging neural-network training.")
    subparsers = parser.add_subparsers(dest="command")
    for name in COMMANDS:
        importlib.import_module(f"tui.commands.{name}").add_parser(subparsers)
    return parser


def split_script_args(argv: list[str]) -> tuple[list[str], list[str]]:
    """tblab's own arguments, and everything after the first `--` (the script's, untouched:
    `tblab watch s.py --steps 5 -- --lr 0.1 a` gives the script `--lr 0.1 a`)."""
    if "--" not in argv:
        return argv, []
    cut = argv.index("--")
    return argv[:cut], argv[cut + 1:]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")) or argv[0].endswith(".py"):
        argv = ["lab", *argv]  # `tblab --logdir x` or `tblab my_script.py` opens the lab
    argv, script_args = split_script_args(argv)
    args = parser.parse_args(argv)
    if script_args and not hasattr(args, "script_args"):
        parser.error(f"arguments after -- go to a watched script: `tblab watch SCRIPT.py ... -- {' '.join(script_args)}`")
    if hasattr(args, "script_args"):
        args.script_args = script_args
    from core.system.children import install_exit_handlers, interruption

    install_exit_handlers()  # SIGTERM / SIGHUP end a command like Ctrl-C; child processes stop with us
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt as error:
        code, words = interruption(error)
        print(f"tblab: {words}", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
