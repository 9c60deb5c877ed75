"""The `runwatch` command: parse arguments, run one command, map errors to exit codes.

Exit codes: 0 success, 1 the job or run failed, 2 a usage or definition error.
Commands import what they need when they run. `runwatch wrap …` runs on every cron
invocation, so it is handed over before anything else is imported, argparse included.
`runwatch run …` starts the keeper of its commands first, so that the keeper's start-up
overlaps with the imports of the run.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 70


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] == ["wrap"]:
        from runner.cli.commands.wrap import main as wrap_main
        from runner.cli.commands.wrap import status_of

        if argv is None:
            wrap_main(words[1:])  # exits with the wrapped command's status
        return status_of(words[1:])
    if words[:1] != ["run"] or {"-h", "--help"} & set(words):
        return _run(words)
    if argv is None:
        from runner.cli import startup_gc

        startup_gc.pause()  # while the modules load (runner.cli.commands.run)
    from runner.executors.local.keeper_launch import start_early

    start_early()  # the keeper of its commands starts beside the imports below
    status = _run(words)
    if argv is None:  # the process is ours: its teardown would cost 20-50 ms
        from runner.cli.process_exit import exit_now

        exit_now(status)
    return status


def _run(words: list[str]) -> int:
    import logging
    import os
    from importlib import import_module
    from pathlib import Path

    from runner.cli.context import Context
    from runner.cli.parser import parse_arguments
    from runner.cli.redacted_logging import LogRedaction
    from runner.config import redactor_for
    from runner.errors import RunwatchError

    args = parse_arguments(words)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="runwatch: %(levelname)s: %(message)s",
    )
    module, func = args.handler.split(":")
    env = dict(os.environ)
    redaction = LogRedaction(redactor_for(None, env))
    redaction.install()
    ctx = Context(args, env, Path.cwd(), log_redaction=redaction)
    try:
        status: int = getattr(import_module(f"runner.cli.commands.{module}"), func)(ctx)
        return status
    except RunwatchError as exc:
        print(f"runwatch: error: {redaction.redactor.redact(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:
        if args.verbose:
            raise
        print(
            f"runwatch: internal error: {type(exc).__name__}: "
            f"{redaction.redactor.redact(str(exc))} "
            "(run with -v for the traceback; please report it)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    finally:
        ctx.close()
        redaction.uninstall()


if __name__ == "__main__":
    sys.exit(main())
