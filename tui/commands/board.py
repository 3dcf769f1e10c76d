"""`tblab board`: TensorBoard on the loopback interface for the log root, until Ctrl-C."""

from __future__ import annotations

import sys
from pathlib import Path

from core.tensorboard.board import LOOPBACK, BoardError, start_board


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("board", help="serve TensorBoard for the logs on 127.0.0.1")
    p.add_argument("--logdir", type=Path, default=Path("logs"))
    p.add_argument("--port", type=int, help="default: a free port")
    p.add_argument("--host", default=LOOPBACK, help="bind address (default 127.0.0.1: this machine only)")
    p.set_defaults(func=run)


def run(args) -> int:
    try:
        board = start_board(args.logdir, args.port, args.host)
    except BoardError as error:
        print(f"tblab: {error}", file=sys.stderr)
        return 2
    print(f"TensorBoard for {args.logdir} at {board.url}  (Ctrl-C stops it)", flush=True)
    try:
        board.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        board.stop()
    return 0
