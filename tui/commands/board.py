"""`tblab board`: TensorBoard on the loopback interface for the log root, until Ctrl-C,
SIGTERM or SIGHUP (a closed terminal): each stops it and its data server."""

from __future__ import annotations

import sys
from pathlib import Path

from core.system.children import interruption
from core.tensorboard.board import LOOPBACK, BoardError, start_board


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("board", help="serve TensorBoard for the logs on 127.0.0.1")
    p.add_argument("--logdir", type=Path, default=Path("logs"), help="the log root to show (default: logs)")
    p.add_argument("--port", type=int, help="TCP port (default: a free one)")
    p.add_argument("--host", default=LOOPBACK, help="bind address (default 127.0.0.1: this machine only)")
    p.set_defaults(func=run)


def run(args) -> int:
    board = None
    try:  # Ctrl-C, SIGTERM and SIGHUP (tui.cli turns them into KeyboardInterrupt) all land in finally
        board = start_board(args.logdir, args.port, args.host)
        print(f"TensorBoard for {args.logdir} at {board.url}  (Ctrl-C stops it)", flush=True)
        code = board.process.wait()
        if code:
            print(f"tblab: TensorBoard exited with code {code}: {board.output_tail()}", file=sys.stderr)
            return 1
    except BoardError as error:
        print(f"tblab: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as stopped:  # Ctrl-C is how a board ends, with the same exit code as every command's
        code, how = interruption(stopped)
        print(f"tblab: {how}; TensorBoard stopped", file=sys.stderr)
        return code
    finally:
        if board is not None:
            board.stop()
    return 0
