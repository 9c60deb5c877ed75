"""Why a failure would go unalerted right now, and how to fix it: never fail silently.

`wrap` prints the reason on stderr when a wrapped command fails (cron mails stderr);
`runwatch check` warns about the same conditions. The failure itself is in the store's
event log either way, so the next process that can alert — `runwatch serve`, or a `run`
or `wrap` that has the settings — alerts on it, once (the alert engine's cursor).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from runner import scheduler_liveness
from runner.settings_file import ETC_DIR, describe_search

_SERVE_HEARTBEAT_PARAMS = {
    "pattern": scheduler_liveness.HEARTBEAT_PATTERN,
    "stopped": f'%"{scheduler_liveness.STOPPED}"%',
}
_QUEUED = "it stays queued and is alerted by the next `runwatch serve`, `run` or `wrap` that can"

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    from typing import Any, Protocol

    from runner.wrap.settings import WrapSettings

    class Scalars(Protocol):
        """A connection that answers one-value queries (the store's or wrap's lean one)."""

        def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
            """The first column of the first row, or None."""


def serve_alive(db: Scalars, now_epoch: float) -> bool:
    """True when a `runwatch serve` is alive by its stored heartbeat (``scheduler_liveness``)."""
    from runner.store.spine_sql import SERVE_HEARTBEAT

    last = db.scalar(SERVE_HEARTBEAT, _SERVE_HEARTBEAT_PARAMS)
    return scheduler_liveness.is_alive(None if last is None else float(last), now_epoch)


def no_settings(env: Mapping[str, str], cwd: str, etc_dir: str = ETC_DIR) -> str:
    """The problem of a process that found no settings file, with the fix."""
    where = describe_search(env, cwd, etc_dir=etc_dir)
    return (
        f"no settings file found (looked for {where}), so there are no receivers: "
        "put runwatch.yaml in one of those places, set RUNWATCH_CONFIG, or pass --config FILE"
    )


def no_rules(path: str, *, never: bool = False) -> str:
    """The problem of settings without alerting rules (or with ``evaluate_in_run: never``)
    while no `serve` runs, with the fix."""
    what = "says alerting.evaluate_in_run: never" if never else "has no alerting rules"
    return (
        f"{path} {what} and no `runwatch serve` is running against this store: "
        "add alerting.rules (and a receiver), or run `runwatch serve` with them"
    )


def alerting_broken(problem: str) -> str:
    """The problem of an alerting section that cannot be read (a secret missing), with the fix."""
    return (
        f"the alerting settings cannot be used: {problem} "
        "(cron's environment is minimal: put secrets in ${file:PATH} or env_file:)"
    )


def alert_gap(
    settings: WrapSettings,
    env: Mapping[str, str],
    cwd: str,
    serve_is_alive: Callable[[], bool],
) -> str | None:
    """Why this process cannot alert on a failure now; None when it can (or `serve` will)."""
    full = settings.full
    if full is None:
        return no_settings(env, cwd)
    if settings.alerting_problem is not None:
        return alerting_broken(settings.alerting_problem)
    never = full.alerting.get("evaluate_in_run") == "never"
    if settings.alert_rules and not never:
        return None
    if serve_is_alive():
        return None
    return no_rules(str(full.config_path), never=settings.alert_rules)


def unalerted_failure(job: str, outcome: str, problem: str) -> str:
    """The one stderr line of a failure nobody is alerted about."""
    return f"job {job} {outcome} and no alert was sent: {problem}; {_QUEUED}"
