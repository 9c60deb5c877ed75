"""YAML job files: what they turn into, and how defaults and paths are applied."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from runner.definitions import load_definitions
from runner.model import (
    Definitions,
    DstPolicy,
    Overlap,
    RepeatedTime,
    SkippedTime,
    TriggerRule,
)
from tests.runner.definitions.conftest import Write

Load = Callable[[str], Definitions]

SPEC_EXAMPLE = """
pools: {warehouse: 2}
defaults:
  retries: 1
jobs:
  nightly-etl:
    schedule: "0 2 * * *"
    timezone: Europe/Berlin
    owner: data-team
    tags: [etl, warehouse]
    description: Nightly load
    max_parallel: 4
    timeout: 2h
    kill_grace: 5s
    catchup: false
    overlap: skip
    max_active_runs: 1
    dst: {repeated: once, skipped: next_valid}
    grace: 5m
    expected_duration: 30m
    params: {region: eu}
    defaults: {retries: 3, pool: warehouse, env: {A: "1"}}
    tasks:
      extract:
        command: ["python", "extract.py"]
        retries: 3
        retry_delay: 10s
        max_retry_delay: 10m
        timeout: 5m
        env: {SOURCE: prod}
        cwd: /srv/etl
        pool: warehouse
        queue: etl
        skip_exit_code: 99
      report:
        command: "python report.py"
        after: [extract]
        trigger: all_done
  hourly-sync:
    schedule: "@hourly"
    command: ["rsync", "-a", "/src", "/dst"]
"""


def test_the_documented_example_loads_into_the_model(load: Load, tmp_path: Path) -> None:
    definitions = load(SPEC_EXAMPLE)

    assert definitions.pools == {"warehouse": 2}
    assert list(definitions.jobs) == ["nightly-etl", "hourly-sync"]
    job = definitions.jobs["nightly-etl"]
    assert job.source == str(tmp_path / "jobs.yaml")
    assert (job.schedule, job.timezone, job.owner) == ("0 2 * * *", "Europe/Berlin", "data-team")
    assert job.tags == ("etl", "warehouse")
    assert job.description == "Nightly load"
    assert (job.max_parallel, job.timeout, job.kill_grace) == (4, 7200.0, 5.0)
    assert (job.catchup, job.overlap, job.max_active_runs) == (False, Overlap.SKIP, 1)
    assert job.dst == DstPolicy(RepeatedTime.ONCE, SkippedTime.NEXT_VALID)
    assert (job.grace, job.expected_duration) == (300.0, 1800.0)
    assert job.params == {"region": "eu"}
    extract = job.tasks["extract"]
    assert extract.command == ("python", "extract.py")
    assert (extract.retries, extract.retry_delay, extract.max_retry_delay) == (3, 10.0, 600.0)
    assert (extract.timeout, extract.cwd, extract.pool, extract.queue) == (
        300.0,
        "/srv/etl",
        "warehouse",
        "etl",
    )
    assert extract.env == {"A": "1", "SOURCE": "prod"}
    assert extract.skip_exit_code == 99
    report = job.tasks["report"]
    assert report.command == "python report.py"
    assert report.after == ("extract",)
    assert report.trigger == TriggerRule.ALL_DONE
    assert (report.retries, report.pool, report.timeout) == (3, "warehouse", None)


def test_a_job_with_command_is_one_task_named_like_the_job(load: Load) -> None:
    job = load(
        """
        jobs:
          hourly-sync:
            schedule: "@hourly"
            command: ["rsync", "-a", "/src", "/dst"]
            retries: 2
            timeout: 1m
            env: {MODE: fast}
        """
    ).jobs["hourly-sync"]

    assert list(job.tasks) == ["hourly-sync"]
    task = job.tasks["hourly-sync"]
    assert task.command == ("rsync", "-a", "/src", "/dst")
    assert (task.retries, task.timeout, task.env) == (2, 60.0, {"MODE": "fast"})
    assert job.timeout is None  # timeout in a one-task job is the task's, per attempt


def test_task_values_beat_job_defaults_which_beat_file_defaults(load: Load) -> None:
    job = load(
        """
        defaults:
          owner: file-owner
          tags: [from-file]
          retries: 1
          timeout: 1m
          queue: file-queue
          env: {A: file, B: file}
        jobs:
          etl:
            defaults: {retries: 2, timeout: 2m, env: {B: job, C: job}}
            tasks:
              explicit:
                command: [true]
                retries: 3
                env: {C: task}
              inherited:
                command: [true]
        """.replace("[true]", '["true"]')
    ).jobs["etl"]

    explicit, inherited = job.tasks["explicit"], job.tasks["inherited"]
    assert (explicit.retries, inherited.retries) == (3, 2)
    assert explicit.timeout == inherited.timeout == 120.0
    assert explicit.queue == inherited.queue == "file-queue"
    assert explicit.env == {"A": "file", "B": "job", "C": "task"}
    assert inherited.env == {"A": "file", "B": "job", "C": "job"}
    assert (job.owner, job.tags) == ("file-owner", ("from-file",))


def test_a_jobs_own_owner_and_tags_replace_the_file_defaults(load: Load) -> None:
    job = load(
        """
        defaults: {owner: file-owner, tags: [a]}
        jobs:
          etl: {owner: me, tags: [b], command: "true"}
        """
    ).jobs["etl"]

    assert (job.owner, job.tags) == ("me", ("b",))


def test_model_defaults_apply_when_nothing_is_set(load: Load) -> None:
    job = load('jobs: {etl: {command: "true"}}').jobs["etl"]

    task = job.tasks["etl"]
    assert (job.schedule, job.timezone, job.overlap, job.catchup) == (
        None,
        "UTC",
        Overlap.SKIP,
        False,
    )
    assert (task.retries, task.retry_delay, task.trigger) == (0, 10.0, TriggerRule.ALL_SUCCESS)


def test_relative_cwd_is_resolved_against_the_yaml_files_folder(
    write: Write, tmp_path: Path
) -> None:
    path = write(
        "sub/jobs.yaml",
        """
        defaults: {cwd: shared}
        jobs:
          etl:
            tasks:
              a: {command: "true", cwd: work/a}
              b: {command: "true", cwd: ../up}
              c: {command: "true", cwd: /abs/c}
              d: {command: "true"}
        """,
    )

    tasks = load_definitions([path]).jobs["etl"].tasks

    assert tasks["a"].cwd == str(tmp_path / "sub" / "work" / "a")
    assert tasks["b"].cwd == str(tmp_path / "up")
    assert tasks["c"].cwd == "/abs/c"
    assert tasks["d"].cwd == str(tmp_path / "sub" / "shared")


def test_after_may_be_a_single_name(load: Load) -> None:
    tasks = (
        load(
            """
        jobs:
          etl:
            tasks:
              a: {command: "true"}
              b: {command: "true", after: a}
        """
        )
        .jobs["etl"]
        .tasks
    )

    assert tasks["b"].after == ("a",)


def test_python_reference_is_imported_from_the_yaml_files_folder(write: Write, load: Load) -> None:
    write(
        "etl_lib_for_yaml/transform.py",
        """
        def run(path, factor=1):
            return f"{path}*{factor}"
        """,
    )
    write("etl_lib_for_yaml/__init__.py", "")

    task = (
        load(
            """
        jobs:
          etl:
            tasks:
              transform:
                python: "etl_lib_for_yaml.transform:run"
                args: ["/tmp/x.csv"]
                kwargs: {factor: 3}
                in_process: true
        """
        )
        .jobs["etl"]
        .tasks["transform"]
    )

    assert task.kind == "python"
    assert task.python is not None
    assert task.python(*task.args, **dict(task.kwargs)) == "/tmp/x.csv*3"
    assert task.args == ("/tmp/x.csv",)
    assert task.kwargs == (("factor", 3),)
    assert task.in_process is True


def test_scalar_env_and_param_values_become_strings(load: Load) -> None:
    job = load(
        """
        jobs:
          etl:
            params: {n: 3, flag: true}
            command: "true"
            env: {N: 1, RATIO: 0.5, ON: false, NAME: x}
        """
    ).jobs["etl"]

    assert job.params == {"n": "3", "flag": "true"}
    assert job.tasks["etl"].env == {"N": "1", "RATIO": "0.5", "ON": "false", "NAME": "x"}


def test_empty_values_count_as_unset(load: Load) -> None:
    job = load(
        """
        jobs:
          etl:
            description:
            timeout:
            command: "true"
        """
    ).jobs["etl"]

    assert (job.description, job.timeout) == (None, None)


def test_yaml_merge_keys_share_settings_between_tasks(load: Load) -> None:
    tasks = (
        load(
            """
        jobs:
          etl:
            tasks:
              a: &common {command: "true", retries: 4, timeout: 1m}
              b:
                <<: *common
                retries: 5
        """
        )
        .jobs["etl"]
        .tasks
    )

    assert (tasks["a"].retries, tasks["b"].retries, tasks["b"].timeout) == (4, 5, 60.0)


def test_a_long_retry_delay_raises_the_default_cap(load: Load) -> None:
    task = load('jobs: {etl: {command: "true", retry_delay: 30m}}').jobs["etl"].tasks["etl"]

    assert (task.retry_delay, task.max_retry_delay) == (1800.0, 1800.0)


def test_command_only_defaults_do_not_apply_to_python_tasks(load: Load) -> None:
    tasks = (
        load(
            """
        jobs:
          etl:
            defaults: {skip_exit_code: 3}
            tasks:
              shell: {command: "true"}
              code: {python: "json:dumps", args: [1]}
        """
        )
        .jobs["etl"]
        .tasks
    )

    assert (tasks["shell"].skip_exit_code, tasks["code"].skip_exit_code) == (3, None)


def test_an_empty_file_defines_nothing(load: Load) -> None:
    assert load("# nothing yet\n") == Definitions(jobs={})
