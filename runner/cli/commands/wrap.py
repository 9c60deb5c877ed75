"""`runwatch wrap [OPTIONS] -- COMMAND [ARGS...]`: a cron command as a recorded run.

``runner.cli.main`` hands ``wrap`` over before it builds the argparse parser (wrap parses
its own options), so a wrapped cron job pays only for what wrapping needs: see
runner/wrap and bench/wrap_bench.py. The console script calls ``main`` (which exits);
in-process callers use ``status_of``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    from typing import NoReturn

    from runner.wrap.report import RunReport
    from runner.wrap.settings import WrapSettings
    from runner.wrap.sink import StoreSink


def deliver_alerts(settings: WrapSettings, report: RunReport, sink: StoreSink) -> None:
    """Evaluate alert rules at the end of a wrapped run, as `runwatch run` does, when the
    config declares rules and the run failed, may resolve a firing alert, or a failure
    recorded by a process that could not alert waits (a success costs two queries;
    without a config file, nothing at all)."""
    if settings.full is None or not settings.alert_rules:
        return
    if (
        report.state == "success"
        and not sink.has_firing_alerts(report.job.name)
        and not sink.failures_unalerted()
    ):
        return
    from runner.cli.alert_delivery import InRunAlerts
    from runner.clock import utcnow
    from runner.store.store import Store

    alerts = InRunAlerts(settings.full)
    with Store.open(settings.db_url, recover=False) as store:
        alerts.deliver(store, utcnow())


def status_of(argv: Sequence[str], env: Mapping[str, str] | None = None) -> int:
    """Run `runwatch wrap` with ``argv`` (the words after ``wrap``); its exit status."""
    try:
        from runner.wrap.command import run_wrap

        environment = os.environ if env is None else env
        return run_wrap(list(argv), environment, after_run=deliver_alerts)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


def main(argv: Sequence[str], env: Mapping[str, str] | None = None) -> NoReturn:
    """Run `runwatch wrap` and exit with the command's status, skipping interpreter
    shutdown (runner.cli.process_exit), and the checkpoint SQLite runs when its last
    connection closes: `runwatch serve` or the next writer checkpoints."""
    from runner.cli.process_exit import exit_now

    exit_now(status_of(argv, env))


if __name__ == "__main__":
    main(sys.argv[1:])
