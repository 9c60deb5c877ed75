"""Every invalid YAML job file is rejected with a message naming file:line, job, task and key."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from runner.errors import DependencyCycleError, InvalidScheduleError

Error = Callable[..., str]


def _task(lines: str) -> str:
    """A job 'etl' whose task 'extract' has the given extra lines (they start at line 6)."""
    extra = "".join(f"        {line}\n" for line in lines.splitlines())
    return 'jobs:\n  etl:\n    tasks:\n      extract:\n        command: ["x"]\n' + extra


def _job(lines: str) -> str:
    """A one-task job 'etl' with the given extra lines (they start at line 4)."""
    extra = "".join(f"    {line}\n" for line in lines.splitlines())
    return 'jobs:\n  etl:\n    command: ["x"]\n' + extra


TASK = "jobs.yaml:6: job 'etl', task 'extract'"
JOB = "jobs.yaml:4: job 'etl'"

REJECTED = [
    pytest.param(
        _task("retries: three"),
        f"{TASK}, key 'retries': expected a whole number >= 0, got 'three'",
        id="retries-not-a-number",
    ),
    pytest.param(
        _task("retries: -1"),
        f"{TASK}, key 'retries': expected a whole number >= 0, got -1",
        id="negative-retries",
    ),
    pytest.param(
        _task("retries: 1.5"),
        f"{TASK}, key 'retries': expected a whole number >= 0, got 1.5",
        id="fractional-retries",
    ),
    pytest.param(
        _task("retires: 3"),
        f"{TASK}: unknown key 'retires' (did you mean 'retries'?)",
        id="unknown-task-key",
    ),
    pytest.param(
        _job("scedule: '@daily'"),
        f"{JOB}: unknown key 'scedule' (did you mean 'schedule'?)",
        id="unknown-job-key",
    ),
    pytest.param(
        "job: {}\n",
        "jobs.yaml:1: unknown key 'job' (did you mean 'jobs'?)",
        id="unknown-file-key",
    ),
    pytest.param(
        'jobs:\n  etl:\n    retries: 2\n    tasks:\n      a: {command: "x"}\n',
        "jobs.yaml:3: job 'etl', key 'retries': this is a task key: set it on each task, "
        "or for all of them under 'defaults:'",
        id="task-key-at-dag-job-level",
    ),
    pytest.param(
        "defaults:\n  retries: 1\n  tiemout: 5m\njobs: {}\n",
        "jobs.yaml:3: key 'defaults': unknown key 'tiemout' (did you mean 'timeout'?)",
        id="unknown-file-default",
    ),
    pytest.param(
        _job("defaults: {owner: me}"),
        f"{JOB}, key 'defaults': unknown key 'owner'",
        id="job-defaults-hold-task-keys-only",
    ),
    pytest.param(
        _task("timeout: 5 minutes"),
        f"{TASK}, key 'timeout': expected a duration such as 30s, 5m, 2h or 1h30m "
        "(units ms s m h d w), got '5 minutes'",
        id="unparseable-duration",
    ),
    pytest.param(
        _task("timeout: 0s"),
        f"{TASK}, key 'timeout': expected a duration above zero, got '0s'",
        id="zero-timeout",
    ),
    pytest.param(
        _job("kill_grace: -5"),
        f"{JOB}, key 'kill_grace': a duration cannot be negative, got -5",
        id="negative-duration",
    ),
    pytest.param(
        "jobs:\n  etl:\n    schedule: '@daily'\n",
        "jobs.yaml:2: job 'etl': a job needs 'tasks' or, for a one-task job, 'command' or 'python'",
        id="neither-command-nor-tasks",
    ),
    pytest.param(
        'jobs:\n  etl:\n    command: "x"\n    tasks:\n      a: {command: "x"}\n',
        "jobs.yaml:2: job 'etl': a job has both 'tasks' and 'command' or 'python'",
        id="both-command-and-tasks",
    ),
    pytest.param(
        "jobs:\n  etl:\n    tasks: {}\n",
        "jobs.yaml:3: job 'etl', key 'tasks': a job needs at least one task",
        id="no-tasks",
    ),
    pytest.param(
        "jobs:\n  etl: echo hi\n",
        "jobs.yaml:2: job 'etl': expected a mapping of job keys, got str 'echo hi'",
        id="job-not-a-mapping",
    ),
    pytest.param(
        "jobs:\n  etl:\n    tasks:\n      a:\n",
        "jobs.yaml:4: job 'etl', task 'a': expected a mapping with 'command' or 'python', "
        "got nothing",
        id="empty-task",
    ),
    pytest.param(
        "jobs:\n  etl:\n    tasks:\n      a: {retries: 1}\n",
        "jobs.yaml:4: job 'etl', task 'a', key 'command': "
        "a task needs 'command' (argv list or string) or 'python'",
        id="task-without-command",
    ),
    pytest.param(
        _task("python: 'json:dumps'"),
        "jobs.yaml:5: job 'etl', task 'extract', key 'command': "
        "a task has either 'command' or 'python', not both",
        id="task-with-command-and-python",
    ),
    pytest.param(
        _job("tags: etl"),
        f"{JOB}, key 'tags': expected a list of non-empty strings, got 'etl'",
        id="tags-not-a-list",
    ),
    pytest.param(
        _job("tags: [etl, 3]"),
        f"{JOB}, key 'tags': expected a list of non-empty strings, got ['etl', 3]",
        id="tags-not-strings",
    ),
    pytest.param(
        _task("env: {A: [1, 2]}"),
        f"{TASK}, key 'env.A': expected a string, number or boolean, got [1, 2]",
        id="env-value-not-scalar",
    ),
    pytest.param(
        _task("env: [A, B]"),
        f"{TASK}, key 'env': expected a mapping of variable names to values, got ['A', 'B']",
        id="env-not-a-mapping",
    ),
    pytest.param(
        'jobs:\n  etl:\n    command: ["python", 3]\n',
        "jobs.yaml:3: job 'etl', key 'command': a command list holds strings only, got 3; "
        "quote it in YAML",
        id="command-list-with-non-strings",
    ),
    pytest.param(
        'jobs:\n  etl:\n    command: "  "\n',
        "jobs.yaml:3: job 'etl', key 'command': the command is empty",
        id="empty-command-string",
    ),
    pytest.param(
        "jobs:\n  etl:\n    command: []\n",
        "jobs.yaml:3: job 'etl', key 'command': the command is an empty list",
        id="empty-command-list",
    ),
    pytest.param(
        "jobs:\n  etl:\n    command: {run: x}\n",
        "jobs.yaml:3: job 'etl', key 'command': expected a list of strings or a shell string, "
        "got {'run': 'x'}",
        id="command-mapping",
    ),
    pytest.param(
        _task("trigger: all_succes"),
        f"{TASK}, key 'trigger': expected one of all_success, all_done, all_failed, one_failed, "
        "one_success, none_failed, none_failed_min_one_success, got 'all_succes' "
        "(did you mean 'all_success'?)",
        id="bad-trigger",
    ),
    pytest.param(
        _job("overlap: replace"),
        f"{JOB}, key 'overlap': expected one of skip, queue, cancel_previous, got 'replace'",
        id="bad-overlap",
    ),
    pytest.param(
        _job("dst: {repeated: twice}"),
        f"{JOB}, key 'dst.repeated': expected one of once, both, got 'twice'",
        id="bad-dst-policy",
    ),
    pytest.param(
        _job("dst: {repeat: once}"),
        f"{JOB}, key 'dst': unknown key 'repeat' (did you mean 'repeated'?)",
        id="unknown-dst-key",
    ),
    pytest.param(
        _job("max_parallel: 0"),
        f"{JOB}, key 'max_parallel': expected a whole number >= 1, got 0",
        id="zero-max-parallel",
    ),
    pytest.param(
        _job("max_active_runs: -2"),
        f"{JOB}, key 'max_active_runs': expected a whole number >= 1, got -2",
        id="negative-max-active-runs",
    ),
    pytest.param(
        _job("catchup: sometimes"),
        f"{JOB}, key 'catchup': expected true or false, got 'sometimes'",
        id="catchup-not-a-boolean",
    ),
    pytest.param(
        _job("skip_exit_code: 300"),
        f"{JOB}, key 'skip_exit_code': expected a whole number from 1 to 255, got 300",
        id="exit-code-out-of-range",
    ),
    pytest.param(
        _job("params: {my-param: x}"),
        f"{JOB}, key 'params': parameter name must be a Python-style identifier, got 'my-param'",
        id="param-name-not-an-identifier",
    ),
    pytest.param(
        _job("in_process: true"),
        f"{JOB}, key 'in_process': only Python tasks can run in process",
        id="in-process-command",
    ),
    pytest.param(
        _job("args: [1]"),
        f"{JOB}, key 'args': 'args' and 'kwargs' are for Python tasks ('python:')",
        id="args-on-command",
    ),
    pytest.param(
        'jobs:\n  etl:\n    python: "json:dumps"\n    args: [1]\n    skip_exit_code: 3\n',
        "jobs.yaml:5: job 'etl', key 'skip_exit_code': only command tasks have an exit code; "
        "raise runner.Skip from a Python task instead",
        id="skip-exit-code-on-python",
    ),
    pytest.param(
        _task("retry_delay: 20m\nmax_retry_delay: 10m"),
        "jobs.yaml:7: job 'etl', task 'extract', key 'max_retry_delay': "
        "max_retry_delay (600s) is shorter than retry_delay (1200s)",
        id="cap-below-delay",
    ),
    pytest.param(
        'jobs:\n  nightly etl:\n    command: "x"\n',
        "jobs.yaml:2: job name must be letters, digits, '_', '.' or '-' (not only dots), "
        "got 'nightly etl'",
        id="job-name-with-space",
    ),
    pytest.param(
        'jobs:\n  "..":\n    command: "x"\n',
        "jobs.yaml:2: job name must be letters, digits, '_', '.' or '-' (not only dots), got '..'",
        id="job-name-only-dots",
    ),
    pytest.param(
        'jobs:\n  2024:\n    command: "x"\n',
        "jobs.yaml:2: job name must be letters, digits, '_', '.' or '-' (not only dots), got 2024",
        id="job-name-not-a-string",
    ),
    pytest.param(
        'jobs:\n  etl:\n    tasks:\n      ex/tract: {command: "x"}\n',
        "jobs.yaml:4: job 'etl', task 'ex/tract': task name must be letters, digits, '_', '.' "
        "or '-' (not only dots), got 'ex/tract'",
        id="task-name-with-slash",
    ),
    pytest.param(
        _task("pool: 'big pool'"),
        f"{TASK}, key 'pool': pool name must be letters, digits, '_', '.' or '-' "
        "(not only dots), got 'big pool'",
        id="bad-pool-name",
    ),
    pytest.param(
        "pools: {warehouse: 0}\n",
        "jobs.yaml:1: key 'pools.warehouse': expected a whole number >= 1, got 0",
        id="empty-pool",
    ),
    pytest.param(
        "- a\n- b\n",
        "jobs.yaml: expected a mapping with 'jobs:' at the top, got list",
        id="file-not-a-mapping",
    ),
    pytest.param(
        "jobs: [a, b]\n",
        "jobs.yaml:1: key 'jobs': expected a mapping of job names to jobs, got list",
        id="jobs-not-a-mapping",
    ),
    pytest.param(
        _task("after: [extract, 3]"),
        f"{TASK}, key 'after': task name must be letters, digits, '_', '.' or '-' "
        "(not only dots), got 3",
        id="after-not-names",
    ),
    pytest.param(
        _task("python_ref: x"),
        f"{TASK}: unknown key 'python_ref' (did you mean 'python'?)",
        id="unknown-key-suggests-python",
    ),
]


@pytest.mark.parametrize(("text", "message"), REJECTED)
def test_invalid_job_files_are_rejected_with_a_located_message(
    error: Error, text: str, message: str
) -> None:
    assert error(text) == message


def test_duplicate_task_names_are_rejected_with_both_lines(error: Error) -> None:
    text = """
        jobs:
          etl:
            tasks:
              extract:
                command: "a"
              extract:
                command: "b"
        """

    assert error(text) == "jobs.yaml:6: duplicate key 'extract' (first defined on line 4)"


def test_a_yaml_syntax_error_names_the_line(error: Error) -> None:
    text = """
        jobs:
          etl:
            command: ["a", "b"
            retries: 1
        """

    message = error(text)

    assert message.startswith("jobs.yaml:4: invalid YAML: ")
    assert "flow sequence" in message


def test_an_unquoted_at_sign_gets_a_quoting_hint(error: Error) -> None:
    message = error("jobs:\n  etl:\n    schedule: @daily\n    command: x\n")

    assert message.startswith("jobs.yaml:3: invalid YAML: ")
    assert message.endswith('quote values that start with @, e.g. schedule: "@daily"')


def test_an_invalid_cron_expression_names_the_bad_field(error: Error) -> None:
    message = error(_job("schedule: '61 * * * *'"), kind=InvalidScheduleError)

    assert message == (
        "jobs.yaml:4: job 'etl', key 'schedule': schedule '61 * * * *': minute field '61' "
        "is invalid (expected 0-59, lists, ranges, steps)"
    )


def test_an_unknown_timezone_suggests_the_closest(error: Error) -> None:
    message = error(_job("timezone: Europe/Berln"), kind=InvalidScheduleError)

    assert message == (
        "jobs.yaml:4: job 'etl', key 'timezone': unknown timezone 'Europe/Berln' "
        "(did you mean 'Europe/Berlin'?)"
    )


def test_an_unknown_upstream_suggests_the_closest_task(error: Error) -> None:
    text = """
        jobs:
          etl:
            tasks:
              extract: {command: "a"}
              load:
                command: "b"
                after: [extrct]
        """

    assert error(text) == (
        "jobs.yaml:7: job 'etl', task 'load', key 'after': "
        "unknown upstream task 'extrct' (did you mean 'extract'?)"
    )


def test_a_dependency_cycle_is_rejected_showing_the_cycle(error: Error) -> None:
    text = """
        jobs:
          etl:
            tasks:
              start: {command: "s"}
              c: {command: "c", after: [b]}
              a: {command: "a", after: [c, start]}
              b: {command: "b", after: a}
        """

    message = error(text, kind=DependencyCycleError)

    assert (
        message
        == "jobs.yaml:6: job 'etl', task 'a', key 'after': dependency cycle: a -> b -> c -> a"
    )


def test_a_python_reference_that_cannot_be_imported_says_why(error: Error) -> None:
    message = error(_job("python: 'no_such_module_xyz:run'").replace('command: ["x"]', "args: []"))

    assert message == (
        "jobs.yaml:4: job 'etl', key 'python': cannot import 'no_such_module_xyz': "
        "ModuleNotFoundError: No module named 'no_such_module_xyz'"
    )


@pytest.mark.parametrize(
    ("reference", "problem"),
    [
        ("json.dumps", "expected 'module:function', got 'json.dumps'"),
        ("json:no_such_function", "module 'json' has no attribute 'no_such_function'"),
        ("json:__doc__", "'json:__doc__' is not callable"),
    ],
)
def test_a_bad_python_reference_is_rejected(error: Error, reference: str, problem: str) -> None:
    text = f"jobs:\n  etl:\n    python: '{reference}'\n"

    assert error(text) == f"jobs.yaml:3: job 'etl', key 'python': {problem}"


def test_arguments_a_python_task_cannot_take_are_rejected_at_load_time(error: Error) -> None:
    text = "jobs:\n  etl:\n    python: 'json:loads'\n    kwargs: {no_such_argument: 1}\n"

    message = error(text)

    assert message.startswith("jobs.yaml:4: job 'etl', key 'kwargs': cannot call loads() with")
    assert "missing a required argument: 's'" in message
