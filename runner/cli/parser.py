"""The command-line grammar. Each subcommand names its handler as "module:function" under
runner.cli.commands, imported only when that command runs."""

from __future__ import annotations

import argparse
import functools
import os
import sys
from dataclasses import dataclass
from typing import Any

from runner.cli.alerting_parser import add_alerting_parsers

EXIT_USAGE = 2
MAX_COUNT = 2**31 - 1
"""The largest number any option takes: ids, counts and limits all fit a 32-bit column."""


def _count(minimum: int) -> Any:
    """An argparse type: a whole number from ``minimum`` to MAX_COUNT (else exit 2)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not minimum <= value <= MAX_COUNT:
            raise argparse.ArgumentTypeError(
                f"expected a whole number from {minimum} to {MAX_COUNT}, got {text}"
            )
        return value

    return parse


class _Formatter(argparse.HelpFormatter):
    """argparse's help format, the terminal's width read once: argparse makes a formatter
    for every argument it is given (to check it), and each asked ``shutil`` for the
    terminal's size (``shutil`` imports the archive modules): 4-9 ms of every command."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=_help_width())


@functools.cache
def _help_width() -> int:
    """As ``shutil.get_terminal_size`` finds the columns (COLUMNS, then stdout's
    terminal, else 80), less the 2 argparse leaves free."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return (columns or 80) - 2


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors exit 2 with a `runwatch: error:` line, and
    whose help is formatted at the terminal's width read once (``_Formatter``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

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
        print(f"runwatch {found}")
        parser.exit(0)


@dataclass(frozen=True)
class Parents:
    """Option groups shared by subcommands."""

    common: Parser
    with_jobs: Parser
    fmt: Parser


def _parents() -> Parents:
    common = Parser(add_help=False)
    common.add_argument("--config", metavar="FILE", help="runwatch.yaml to use")
    common.add_argument("--db", metavar="URL", help="database URL (overrides RUNWATCH_DB_URL)")
    with_jobs = Parser(add_help=False, parents=[common])
    with_jobs.add_argument(
        "--jobs",
        action="append",
        metavar="PATH",
        help="a job file or folder (repeatable); default: runwatch.yaml's",
    )
    fmt = Parser(add_help=False)
    fmt.add_argument("--format", choices=["table", "json"], default="table")
    return Parents(common, with_jobs, fmt)


def _command(sub: Any, name: str, handler: str, parents: list[Parser], text: str) -> Parser:
    parser: Parser = sub.add_parser(name, parents=parents, help=text)
    parser.set_defaults(handler=handler)
    return parser


def _add_run_commands(sub: Any, p: Parents) -> None:
    _command(sub, "check", "maintenance:check", [p.with_jobs], "validate configuration and jobs")
    run = _command(sub, "run", "run:command", [p.with_jobs, p.fmt], "run a job now")
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


def _add_history_commands(sub: Any, p: Parents) -> None:
    _command(sub, "jobs", "listing:jobs", [p.with_jobs, p.fmt], "list jobs")
    datasets = _command(
        sub, "datasets", "datasets:command", [p.with_jobs, p.fmt], "datasets and their freshness"
    )
    datasets.add_argument(
        "--stale-after",
        default="26h",
        metavar="DURATION",
        help="a dataset not updated for this long is stale (default 26h)",
    )
    runs = _command(sub, "runs", "listing:runs", [p.common, p.fmt], "list runs, newest first")
    runs.add_argument("--job")
    runs.add_argument("--status", metavar="STATE")
    runs.add_argument("--limit", type=_count(1), default=20)
    show = _command(sub, "show", "listing:show", [p.common, p.fmt], "a run and its attempts")
    show.add_argument("run_id", type=_count(1))
    logs = _command(sub, "logs", "listing:logs", [p.common], "print captured task output")
    logs.add_argument("run_id", type=_count(1))
    logs.add_argument("task", nargs="?")
    logs.add_argument("--attempt", type=_count(1))
    logs.add_argument("--stream", choices=["stdout", "stderr", "both"], default="both")


def _add_schedule_commands(sub: Any, p: Parents) -> None:
    serve = _command(sub, "serve", "serve:command", [p.with_jobs], "run the scheduler daemon")
    serve.add_argument(
        "--listen",
        metavar="HOST:PORT",
        help="HTTP listener for /metrics and /healthz (default 127.0.0.1:9464)",
    )
    serve.add_argument(
        "--shutdown-grace",
        default="30s",
        metavar="DURATION",
        help="on SIGTERM, how long running tasks may finish (default 30s)",
    )
    serve.add_argument("--log-format", choices=["text", "json"], default="text")
    preview = _command(
        sub,
        "schedule-preview",
        "schedule:preview",
        [p.with_jobs, p.fmt],
        "the next fire times of a job, DST shifts marked",
    )
    preview.add_argument("job")
    preview.add_argument("--count", type=int, default=10)
    preview.add_argument("--since", metavar="TIME", help="start from this time (default now)")
    trigger = _command(
        sub,
        "trigger",
        "schedule:trigger",
        [p.with_jobs, p.fmt],
        "queue a manual run for the running scheduler",
    )
    trigger.add_argument("job")
    trigger.add_argument("--param", action="append", metavar="KEY=VALUE")
    _command(sub, "pause", "schedule:pause", [p.with_jobs], "stop scheduling a job").add_argument(
        "job"
    )
    _command(sub, "unpause", "schedule:unpause", [p.with_jobs], "resume scheduling").add_argument(
        "job"
    )
    backfill = _command(
        sub,
        "backfill",
        "backfill:command",
        [p.with_jobs],
        "one run per fire time in a range, skipping successes",
    )
    backfill.add_argument("job")
    backfill.add_argument("--from", dest="start", required=True, metavar="TIME")
    backfill.add_argument("--to", dest="end", required=True, metavar="TIME")
    backfill.add_argument("--max-active", type=_count(1), default=1, metavar="N")
    backfill.add_argument(
        "--max-runs",
        type=_count(1),
        default=1000,
        metavar="N",
        help="refuse a range of more fire times than this (default 1000)",
    )


def _add_cron_commands(sub: Any, p: Parents) -> None:
    # `wrap` is dispatched before argparse (see runner.cli.main); listed here for --help.
    sub.add_parser(
        "wrap",
        add_help=False,
        help="run a cron command as a recorded run: wrap --job NAME [options] -- CMD ...",
    )
    ping_url = _command(
        sub,
        "ping-url",
        "ping:ping_url",
        [p.with_jobs, p.fmt],
        "print a job's ping URL and token (for `wrap --server` on another host)",
    )
    ping_url.add_argument("job")
    ping_url.add_argument(
        "--token-only", action="store_true", help="print only the token (to put in a file)"
    )
    imp = _command(
        sub,
        "import-crontab",
        "crontab:import_command",
        [],
        "turn a crontab into jobs and lines that run `runwatch wrap`",
    )
    imp.add_argument(
        "file",
        nargs="?",
        metavar="FILE|-",
        help="crontab file or - (default: `crontab -l`; with --system /etc/crontab)",
    )
    imp.add_argument(
        "--system", action="store_true", help="system crontab format, with a user column"
    )
    imp.add_argument(
        "--write", metavar="DIR", help="write DIR/jobs.yaml and DIR/crontab instead of printing"
    )
    imp.add_argument(
        "--runwatch",
        metavar="COMMAND",
        help="how rewritten lines call runwatch (default: this runwatch's absolute path)",
    )
    imp.add_argument(
        "--config",
        metavar="FILE",
        help="runwatch.yaml the rewritten lines pass to wrap (default: the one in use)",
    )
    imp.add_argument(
        "--keep-unconverted",
        action="store_true",
        help="keep lines that cannot be converted unchanged instead of exiting 2",
    )


def _add_dashboard_command(sub: Any, p: Parents) -> None:
    dashboard = _command(
        sub,
        "dashboard",
        "dashboard:command",
        [p.common],
        "serve the web dashboard (read-only unless dashboard.actions)",
    )
    dashboard.add_argument("--port", type=int, default=8501, help="TCP port (default 8501)")
    dashboard.add_argument(
        "--address", default="127.0.0.1", metavar="HOST", help="listen address (default 127.0.0.1)"
    )


def _add_worker_command(sub: Any, p: Parents) -> None:
    worker = _command(
        sub, "worker", "worker:command", [p.with_jobs], "run a Celery worker for task attempts"
    )
    worker.add_argument(
        "--queues",
        metavar="Q1,Q2",
        help="queues to consume, comma-separated (default: executor.queue, runwatch)",
    )
    worker.add_argument(
        "--concurrency",
        type=_count(1),
        metavar="N",
        help="worker processes, one attempt at a time each (default: workers, 8)",
    )
    worker.add_argument("--log-format", choices=["text", "json"], default="text")


def _add_db_commands(sub: Any, p: Parents) -> None:
    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True, parser_class=Parser)
    _command(db_sub, "upgrade", "maintenance:db_upgrade", [p.common], "create or migrate schema")
    prune = _command(db_sub, "prune", "maintenance:db_prune", [p.common], "delete old runs")
    prune.add_argument("--older-than", required=True, metavar="DURATION", help="e.g. 90d")


def parse_arguments(words: list[str]) -> argparse.Namespace:
    """The command line, parsed with the grammar of its command alone when its first
    word names one (the others' cost 5-6 ms); with the whole grammar when it does not,
    and to tell any usage error, so that the message is the same either way."""
    if words and not words[0].startswith("-"):
        try:
            return build_parser(words[0]).parse_args(words)
        except _OneCommandError:
            pass
    return build_parser().parse_args(words)


def build_parser(command: str | None = None) -> Parser:
    """The command-line grammar: whole, or with only ``command``'s subparser (whose usage
    errors raise ``_OneCommandError``: see ``parse_arguments``)."""
    p = _parents()
    top = Parser if command is None else _OneCommandParser
    parser = top(prog="runwatch", description="Run, watch and alert on pipelines.")
    parser.add_argument("--version", action=_Version)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub: Any = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    if command is not None:
        sub = _OnlyOne(sub, command)
    _add_run_commands(sub, p)
    _add_history_commands(sub, p)
    _add_schedule_commands(sub, p)
    _add_cron_commands(sub, p)
    add_alerting_parsers(sub, p.common, p.fmt)
    _add_dashboard_command(sub, p)
    _add_worker_command(sub, p)
    _add_db_commands(sub, p)
    if isinstance(sub, _OnlyOne) and not sub.found:
        raise _OneCommandError  # not a command: the whole grammar says so
    return parser


class _OneCommandError(Exception):
    """A command line that the grammar of one command cannot answer."""


class _OneCommandParser(Parser):
    """The top-level parser holding one command's subparser: an error it would report
    (its usage lists that command alone) is reported by the whole grammar instead."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise _OneCommandError(message)


class _OnlyOne:
    """The top-level subparsers, adding only ``name``'s parser; any other is ``_Skipped``."""

    def __init__(self, sub: Any, name: str) -> None:
        self._sub = sub
        self._name = name
        self.found = False

    def add_parser(self, name: str, **kwargs: Any) -> Any:
        if name != self._name:
            return _Skipped()
        self.found = True
        return self._sub.add_parser(name, **kwargs)


class _Skipped:
    """A subcommand's parser left out: every call on it does nothing and returns it."""

    def __getattr__(self, _name: str) -> Any:
        return self._absorb

    def _absorb(self, *_args: Any, **_kwargs: Any) -> _Skipped:
        return self
