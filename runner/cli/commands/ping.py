"""`runwatch ping-url JOB`: the URL and token a remote host reports a job's runs with."""

from __future__ import annotations

from runner.cli.context import Context
from runner.errors import UsageError


def ping_url(ctx: Context) -> int:
    """Print the job's ping URL and its token (stdout only, and only when asked)."""
    from runner.cli.output import emit_json
    from runner.server.ping_api import ROUTE
    from runner.server.ping_report import PingError, check_job_name
    from runner.server.ping_tokens import job_token
    from runner.server.settings import server_settings

    job = ctx.args.job
    try:
        check_job_name(job)
    except PingError as exc:
        raise UsageError(str(exc)) from None
    server = server_settings(ctx.settings)
    if server.secret is None:
        raise UsageError(
            "the ping API is off: set server.token in runwatch.yaml (a secret of at least "
            '16 characters, e.g. "${RUNWATCH_PING_SECRET}")'
        )
    defined = ctx.definitions.jobs.get(job) if _has_job_files(ctx) else None
    if defined is not None and not defined.pingable:
        raise UsageError(
            f"job {job!r} is defined in {defined.source} without 'pingable: true': "
            "the server refuses pings for it"
        )
    url = server.base_url + ROUTE.format(job=job, kind="{start,success,fail}")
    token = job_token(server.secret, job).reveal()
    if ctx.args.token_only:
        print(token)
    elif ctx.args.format == "json":
        emit_json({"job": job, "url": url, "token": token})
    else:
        print(f"url:   {url}")
        print(f"token: {token}")
        print(f"wrap:  runwatch wrap --job {job} --server {server.base_url} --token-file FILE --")
    return 0


def _has_job_files(ctx: Context) -> bool:
    return bool(getattr(ctx.args, "jobs", None) or ctx.settings.job_paths)
