"""The command line of `runwatch wrap`, parsed by hand.

Options come first, then the command: after ``--``, or from the first word that is not
an option. A bad option never stops the command from running: it is reported (one line
on stderr) and left at its default, because a typo in a crontab line must not turn into
a job that silently stopped running.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from runner.dataset_names import Dataset, parse_dataset_uri
from runner.durations import parse_duration

USAGE = (
    "usage: runwatch wrap --job NAME [--schedule CRON] [--timezone TZ] [--grace DURATION]\n"
    "                     [--timeout DURATION] [--expected-duration DURATION] [--retries N]\n"
    "                     [--retry-delay DURATION] [--owner OWNER] [--tag TAG ...]\n"
    "                     [--overlap allow|skip|wait] [--input URI ...] [--output URI ...]\n"
    "                     [--server URL [--token-file FILE]\n"
    "                     [--token-env VAR] [--ca-file FILE]] [--config FILE] [--db URL]\n"
    "                     -- COMMAND [ARGS ...]\n"
)
HELP = (
    USAGE
    + """
Run COMMAND exactly as cron would (output passed through, its exit code returned,
128+N when killed by or interrupted with signal N) and record it as a run of a job.
A bad option is reported on stderr and ignored: the command always runs.

options:
  -h, --help                 show this help and exit
  --job NAME                 the job to record the run under (letters, digits, _ . -);
                             without it the command runs unrecorded
  --schedule CRON            the crontab schedule, so late and missed runs are noticed
  --timezone TZ              the schedule's timezone (default UTC)
  --grace DURATION           how late a start may be before the run counts as missed
  --timeout DURATION         stop the command after this long (SIGTERM, then SIGKILL
                             5s later); wrap exits 124, as timeout(1) does
  --expected-duration DURATION
                             a run taking longer is reported as overdue
  --retries N                run the command again up to N times when it fails
  --retry-delay DURATION     wait before the first retry, longer before later ones
                             (default 10s, exponential with jitter, at most 10m)
  --owner OWNER              who is paged: shown in every alert about the job
  --tag TAG                  a tag of the job (repeatable)
  --overlap allow|skip|wait  when the previous run still runs: start anyway (default),
                             skip this start, or wait for it to end
  --input URI                a dataset the command reads, e.g. file:///data/in.csv
                             (repeatable; lineage)
  --output URI               a dataset the command writes, e.g.
                             postgres://host:5432/db.schema.table (repeatable): each
                             successful run records an update of it
  --server URL               report to a `runwatch serve` over HTTP instead of the store
  --token-file FILE          a file holding the job's ping token (from `runwatch ping-url`)
  --token-env VAR            the variable holding the job's ping token
                             (default RUNWATCH_PING_TOKEN)
  --ca-file FILE             CA bundle to verify an https:// --server (default: system CAs)
  --config FILE              the settings file; default: $RUNWATCH_CONFIG, else the first
                             of ./runwatch.yaml, $XDG_CONFIG_HOME/runwatch/runwatch.yaml
                             (~/.config/runwatch/), /etc/runwatch/runwatch.yaml
  --db URL                   the store's database URL (overrides RUNWATCH_DB_URL)

DURATION is a number of seconds or a value such as 90s, 5m, 1h. When the command fails
and runwatch cannot alert on it right then (no settings file, a receiver's secret
missing, no alerting rules and no `runwatch serve`), wrap says so in one line on stderr,
which cron mails; the failure stays recorded for the next process that can alert.
"""
)
OVERLAP_MODES = ("allow", "skip", "wait")
DEFAULT_RETRY_DELAY_SECONDS = 10.0
"""As for tasks: the first retry waits about this long, later ones exponentially longer."""


class WrapOptions:
    """What `runwatch wrap` was asked to do; ``problems`` lists the options it ignored."""

    def __init__(self) -> None:
        self.job: str | None = None
        self.command: list[str] = []
        self.schedule: str | None = None
        self.timezone: str = "UTC"
        self.grace: float | None = None
        self.timeout: float | None = None
        self.expected_duration: float | None = None
        self.retries: int = 0
        self.retry_delay: float = DEFAULT_RETRY_DELAY_SECONDS
        self.owner: str | None = None
        self.tags: list[str] = []
        self.inputs: list[Dataset] = []
        self.outputs: list[Dataset] = []
        self.overlap: str = "allow"
        self.server: str | None = None
        self.token_env: str | None = None
        self.token_file: str | None = None
        self.ca_file: str | None = None
        self.config: str | None = None
        self.db: str | None = None
        self.help = False
        self.problems: list[str] = []


def _seconds(value: str) -> float:
    """A duration such as ``90s`` or ``5m``; a bare number is seconds."""
    try:
        return parse_duration(float(value))
    except ValueError:
        return parse_duration(value)


def _duration(value: str) -> float:
    seconds = _seconds(value)
    if seconds <= 0:
        raise ValueError(f"expected a duration above zero, got {value!r}")
    return seconds


def _whole(value: str) -> int:
    if not value.isdigit():
        raise ValueError(f"expected a whole number >= 0, got {value!r}")
    return int(value)


def _choice(value: str) -> str:
    if value not in OVERLAP_MODES:
        raise ValueError(f"expected one of {', '.join(OVERLAP_MODES)}, got {value!r}")
    return value


def _text(value: str) -> str:
    if not value.strip():
        raise ValueError("expected a value, got an empty string")
    return value


def _set(attr: str, convert: Callable[[str], object]) -> Callable[[WrapOptions, str], None]:
    def apply(options: WrapOptions, value: str) -> None:
        setattr(options, attr, convert(value))

    return apply


def _add_tag(options: WrapOptions, value: str) -> None:
    options.tags.append(_text(value))


def _add_dataset(attr: str) -> Callable[[WrapOptions, str], None]:
    def apply(options: WrapOptions, value: str) -> None:
        declared: list[Dataset] = getattr(options, attr)
        dataset = parse_dataset_uri(value)
        if dataset not in declared:
            declared.append(dataset)

    return apply


_OPTIONS: dict[str, Callable[[WrapOptions, str], None]] = {
    "--job": _set("job", _text),
    "--schedule": _set("schedule", _text),
    "--timezone": _set("timezone", _text),
    "--grace": _set("grace", _seconds),
    "--timeout": _set("timeout", _duration),
    "--expected-duration": _set("expected_duration", _duration),
    "--retries": _set("retries", _whole),
    "--retry-delay": _set("retry_delay", _seconds),
    "--owner": _set("owner", _text),
    "--tag": _add_tag,
    "--input": _add_dataset("inputs"),
    "--output": _add_dataset("outputs"),
    "--overlap": _set("overlap", _choice),
    "--server": _set("server", _text),
    "--token-env": _set("token_env", _text),
    "--token-file": _set("token_file", _text),
    "--ca-file": _set("ca_file", _text),
    "--config": _set("config", _text),
    "--db": _set("db", _text),
}


def parse_wrap_args(argv: Sequence[str]) -> WrapOptions:
    """Parse `runwatch wrap` arguments (without the ``wrap`` word); never raises."""
    options = WrapOptions()
    args = list(argv)
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg == "--":
            options.command = args[index:]
            break
        if arg in ("-h", "--help"):
            options.help = True
            continue
        if not arg.startswith("-") or arg == "-":
            options.command = args[index - 1 :]
            break
        name, has_value, value = arg.partition("=")
        apply = _OPTIONS.get(name)
        if apply is None:
            options.problems.append(f"unknown option {name} ignored")
            continue
        if not has_value:
            if index >= len(args):
                options.problems.append(f"{name} needs a value")
                break
            value = args[index]
            index += 1
        try:
            apply(options, value)
        except ValueError as exc:
            options.problems.append(f"{name} ignored: {exc}")
    if options.server is not None and not options.server.startswith(("http://", "https://")):
        options.problems.append(f"--server {options.server!r} ignored: expected an http(s):// URL")
        options.server = None
    return options
