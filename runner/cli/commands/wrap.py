"""`runwatch wrap [OPTIONS] -- COMMAND [ARGS...]`: a cron command as a recorded run.

``main`` is meant to be called by ``runner.cli.main`` before argparse is built, so a
wrapped cron job pays only for what wrapping needs (see runner/wrap and
bench/wrap_bench.py).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from contextlib import suppress

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    from typing import NoReturn

    from runner.cli.context import Context


def status_of(argv: Sequence[str], env: Mapping[str, str] | None = None) -> int:
    """Run `runwatch wrap` with ``argv`` (the words after ``wrap``); its exit status."""
    try:
        from runner.wrap.command import run_wrap

        return run_wrap(list(argv), os.environ if env is None else env)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


def main(argv: Sequence[str], env: Mapping[str, str] | None = None) -> NoReturn:
    """Run `runwatch wrap` and exit with the command's status, skipping interpreter
    shutdown: it would cost more than the rest of wrap (module teardown, and the
    checkpoint SQLite runs when its last connection closes — committed writes are in
    the write-ahead log already, and the next writer or `runwatch serve` checkpoints)."""
    status = status_of(argv, env)
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):  # a closed stdout cannot change the exit status
            stream.flush()
    os._exit(status)


def command(ctx: Context) -> int:
    """The argparse route (so ``runwatch wrap`` shows in ``runwatch --help``)."""
    return status_of(ctx.args.wrap_args, ctx.env)


if __name__ == "__main__":
    main(sys.argv[1:])
