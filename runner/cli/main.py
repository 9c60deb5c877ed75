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

from runner.cli.alerting_parser import add_alerting_parsers
from runner.errors import RunwatchError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 70

# command name -> "module:function" under runner.cli.commands
_COMMANDS = {
    "check": "maintenance:check",
    "run": "run:command",
    "jobs": "listing:jobs",
    "runs": "listing:runs",
    "show": "listing:show",
    "logs": "listing:logs",
    "db upgrade": "maintenance:db_upgrade",
    "db prune": "maintenance:db_prune",
    "serve": "serve:command",
    "schedule-preview": "schedule:preview",
    "trigger": "schedule:trigger",
    "pause": "schedule:pause",
    "unpause": "schedule:unpause",
    "backfill": "schedule:backfill",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"runwatch: error: {message}\n")


class _Version(argparse.Action):
    """``--version``, looked up only when asked for (importlib.metadata costs ~35 ms)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("runwatch")
        except PackageNotFoundError:
            found = "unknown"
        parser.exit(0, f"runwatch {found}\n")


def build_parser() -> argparse.ArgumentParser:
    """The full command-line grammar."""
    common = _Parser(add_help=False)
    common.add_argument("--config", metavar="FILE", help="runwatch.yaml to use")
    common.add_argument("--db", metavar="URL", help="database URL (overrides RUNWATCH_DB_URL)")
    with_jobs = _Parser(add_help=False, parents=[common])
    with_jobs.add_argument(
        "--jobs",
        action="append",
        metavar="PATH",
        help="a job file or folder (repeatable); default: runwatch.yaml's",
    )
    fmt = _Parser(add_help=False)
    fmt.add_argument("--format", choices=["table", "json"], default="table")

    parser = _Parser(prog="runwatch", description="Run, watch and alert on pipelines.")
    parser.add_argument("--version", action=_Version)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sub.add_parser("check", parents=[with_jobs], help="validate configuration and jobs")

    run = sub.add_parser("run", parents=[with_jobs, fmt], help="run a job now")
    run.add_argument("job")
    run.add_argument(
        "--param",
        action="append",
        metavar="KEY=VALUE",
        help="a parameter, given to tasks as RUNWATCH_PARAM_KEY (repeatable)",
    )
    run.add_argument(
        "--logical-time",
        metavar="TIME",
        help="the time the run stands for (ISO 8601); reruns an existing run",
    )
    run.add_argument(
        "--force",
        action="store_true",
        help="with --logical-time: rerun every task, not only unsuccessful ones",
    )

    sub.add_parser("jobs", parents=[with_jobs, fmt], help="list jobs")

    runs = sub.add_parser("runs", parents=[common, fmt], help="list runs, newest first")
    runs.add_argument("--job")
    runs.add_argument("--status", metavar="STATE")
    runs.add_argument("--limit", type=int, default=20)

    show = sub.add_parser("show", parents=[common, fmt], help="show a run and its attempts")
    show.add_argument("run_id", type=int)

    logs = sub.add_parser("logs", parents=[common], help="print captured task output")
    logs.add_argument("run_id", type=int)
    logs.add_argument("task", nargs="?")
    logs.add_argument("--attempt", type=int)
    logs.add_argument("--stream", choices=["stdout", "stderr", "both"], default="both")

    serve = sub.add_parser("serve", parents=[with_jobs], help="run the scheduler daemon")
    serve.add_argument("--listen", metavar="HOST:PORT",
                       help="HTTP listener for /metrics and /healthz (default 127.0.0.1:9464)")
    serve.add_argument("--shutdown-grace", default="30s", metavar="DURATION",
                       help="on SIGTERM, how long running tasks may finish (default 30s)")
    serve.add_argument("--log-format", choices=["text", "json"], default="text")

    preview = sub.add_parser("schedule-preview", parents=[with_jobs, fmt],
                             help="the next fire times of a job, DST shifts marked")
    preview.add_argument("job")
    preview.add_argument("--count", type=int, default=10)
    preview.add_argument("--since", metavar="TIME", help="start from this time (default now)")

    trigger = sub.add_parser("trigger", parents=[with_jobs],
                             help="queue a manual run for the running scheduler")
    trigger.add_argument("job")
    trigger.add_argument("--param", action="append", metavar="KEY=VALUE")
    for name, text in (("pause", "stop scheduling a job"), ("unpause", "resume scheduling")):
        sub.add_parser(name, parents=[with_jobs], help=text).add_argument("job")

    backfill = sub.add_parser("backfill", parents=[with_jobs],
                              help="one run per fire time in a range, skipping successes")
    backfill.add_argument("job")
    backfill.add_argument("--from", dest="start", required=True, metavar="TIME")
    backfill.add_argument("--to", dest="end", required=True, metavar="TIME")
    backfill.add_argument("--max-active", type=int, default=1, metavar="N")

    add_alerting_parsers(sub, common, fmt)

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True, parser_class=_Parser)
    db_sub.add_parser("upgrade", parents=[common], help="create or migrate the schema")
    prune = db_sub.add_parser("prune", parents=[common], help="delete old runs and logs")
    prune.add_argument("--older-than", required=True, metavar="DURATION", help="e.g. 90d")
    return parser


def _resolve(args: argparse.Namespace) -> Callable[..., int]:
    if getattr(args, "handler", None):
        module, func = args.handler.split(":")
        found: Callable[..., int] = getattr(import_module(f"runner.cli.commands.{module}"), func)
        return found
    name = args.command + (f" {args.db_command}" if args.command == "db" else "")
    module, func = _COMMANDS[name].split(":")
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
