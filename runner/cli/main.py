"""The `runwatch` command: parse arguments, run one command, map errors to exit codes.

Exit codes: 0 success, 1 the job or run failed, 2 a usage or definition error.
Commands import what they need when they run, so `runwatch --version` or a wrapped
cron job never pays for the whole stack.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from importlib import import_module
from pathlib import Path

from runner.cli.parser import build_parser
from runner.errors import RunwatchError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 70


def _resolve(args: argparse.Namespace) -> Callable[..., int]:
    module, func = args.handler.split(":")
    handler: Callable[..., int] = getattr(import_module(f"runner.cli.commands.{module}"), func)
    return handler


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="runwatch: %(levelname)s: %(message)s",
    )
    from runner.cli.context import Context

    ctx = Context(args, dict(os.environ), Path.cwd())
    try:
        return _resolve(args)(ctx)
    except RunwatchError as exc:
        print(f"runwatch: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:
        if args.verbose:
            raise
        print(
            f"runwatch: internal error: {type(exc).__name__}: {exc} "
            "(run with -v for the traceback; please report it)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    finally:
        ctx.close()


if __name__ == "__main__":
    sys.exit(main())
