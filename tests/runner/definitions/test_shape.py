"""``branch_on_exit`` and the join trigger rule, in YAML and Python, and their rejections."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from runner import command, job, sensor, task
from runner.errors import DefinitionError
from runner.model import Definitions, OnTimeout, SensorKind, TriggerRule, UpstreamResult

Error = Callable[..., str]

BRANCHED = """
jobs:
  daily:
    tasks:
      check:
        command: "test -s /data/in/today.csv"
        branch_on_exit: {0: [load], 1: notify_empty}
      load:
        command: ["true"]
        after: [check]
      notify_empty:
        command: ["true"]
        after: [check]
      report:
        command: ["true"]
        after: [load, notify_empty]
        trigger: none_failed_min_one_success
"""


def test_yaml_branch_on_exit_and_the_join_rule_load(load: Callable[[str], Definitions]) -> None:
    tasks = load(BRANCHED).jobs["daily"].tasks
    assert tasks["check"].branch_on_exit == {0: ("load",), 1: ("notify_empty",)}
    assert tasks["report"].trigger is TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("1: notify_empty", "1: report"),
            "jobs.yaml:6: job 'daily', task 'check', key 'branch_on_exit.1': task 'report' is "
            "not a direct downstream task of 'check' (downstream: load, notify_empty); "
            "add 'check' to its 'after'",
        ),
        (
            ("{0: [load], 1: notify_empty}", "{256: [load]}"),
            "key 'branch_on_exit.256': expected a whole number from 0 to 255, got 256",
        ),
        (
            ("{0: [load], 1: notify_empty}", "[load]"),
            "key 'branch_on_exit': expected a mapping of exit codes to downstream task names",
        ),
        (
            ('command: "test -s /data/in/today.csv"', 'command: "x"\n        skip_exit_code: 1'),
            "key 'branch_on_exit.1': exit code 1 is also the task's skip_exit_code",
        ),
        (
            ('command: "test -s /data/in/today.csv"', "python: os:getcwd"),
            "key 'branch_on_exit': only command tasks have an exit code; "
            "return runner.Branch(...) from a Python task",
        ),
    ],
)
def test_a_bad_branch_on_exit_is_rejected_naming_job_task_and_key(
    error: Error, change: tuple[str, str], message: str
) -> None:
    text = BRANCHED.replace(*change)
    assert text != BRANCHED
    assert message in error(text)


def test_python_command_takes_branch_on_exit() -> None:
    @job
    def daily() -> None:
        check = command("check", "exit 3", branch_on_exit={0: "load", 3: ["notify_empty"]})
        command("load", ["true"], after=[check])
        command("notify_empty", ["true"], after=[check])

    assert daily.tasks["check"].branch_on_exit == {0: ("load",), 3: ("notify_empty",)}


def test_python_command_branching_to_a_stranger_is_rejected() -> None:
    with pytest.raises(DefinitionError, match="task 'load' is not a direct downstream task"):

        @job
        def daily() -> None:
            command("check", "exit 3", branch_on_exit={0: ["load"]})
            command("load", ["true"])


MAPPED = """
jobs:
  daily:
    tasks:
      list_files:
        command: "ls"
      process:
        command: ["true"]
        map_over: list_files
        max_map: 50
      regions:
        command: ["true"]
        map_over: {param: regions}
"""


def test_yaml_map_over_a_task_or_a_parameter(load: Callable[[str], Definitions]) -> None:
    tasks = load(MAPPED).jobs["daily"].tasks
    process = tasks["process"]
    assert (process.map_over, process.max_map, process.after) == (
        "list_files",
        50,
        ("list_files",),
    )
    assert (tasks["regions"].map_param, tasks["regions"].max_map) == ("regions", 1000)
    assert not tasks["list_files"].mapped


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("map_over: list_files", "map_over: list_file"),
            "jobs.yaml:8: job 'daily', task 'process', key 'map_over': unknown task "
            "'list_file' to map over (did you mean 'list_files'?)",
        ),
        (
            ("map_over: list_files", "map_over: process"),
            "key 'map_over': unknown task 'process' to map over",
        ),
        (
            ("max_map: 50", "max_map: 0"),
            "key 'max_map': expected a whole number >= 1, got 0",
        ),
        (
            ("        map_over: list_files\n", ""),
            "key 'max_map': max_map is for a mapped task: set 'map_over' too",
        ),
        (
            ("{param: regions}", "{parm: regions}"),
            "key 'map_over': expected a task name or {param: NAME}, got {'parm': 'regions'}",
        ),
        (
            ("max_map: 50", "branch_on_exit: {0: [x]}"),
            "key 'branch_on_exit': a mapped task cannot branch: its instances would",
        ),
    ],
)
def test_a_bad_map_over_is_rejected_naming_job_task_and_key(
    error: Error, change: tuple[str, str], message: str
) -> None:
    text = MAPPED.replace(*change)
    assert text != MAPPED
    assert message in error(text)


@task
def list_files() -> list[str]:
    return ["a"]


@task
def process(name: str, suffix: str) -> str:
    return name + suffix


def test_python_task_map_maps_over_an_upstream_result() -> None:
    @job
    def daily() -> None:
        process.map(list_files(), ".done")

    mapped = daily.tasks["process"]
    assert (mapped.map_over, mapped.after) == ("list_files", ("list_files",))
    assert mapped.args == (UpstreamResult("list_files"), ".done")


def test_python_task_map_needs_a_task_result_and_a_job_body() -> None:
    with pytest.raises(DefinitionError, match="map\\(\\) can only be called inside a @job"):
        process.map(list_files(), "x")  # type: ignore[arg-type]
    with pytest.raises(DefinitionError, match="map\\(\\) takes the task whose list result"):

        @job
        def daily() -> None:
            process.map(["a"], "x")  # type: ignore[arg-type]


SENSED = """
jobs:
  daily:
    tasks:
      wait_files:
        sensor:
          file: "/data/in/{{ds}}/*.csv"
          interval: 1m
          timeout: 6h
          on_timeout: skip
      wait_api:
        sensor: {http: "https://api.example.com/ready?day={{ds}}", status: 204, timeout: 1h}
      wait_db:
        sensor: {sql: "SELECT 1 FROM loads WHERE day = :ds", db_url: "sqlite:///w.db", timeout: 1h}
      wait_job:
        sensor: {job: ingest, timeout: 2h}
      wait_cmd:
        sensor: {command: ["test", "-e", "/flags/{{ds_nodash}}"], timeout: 1h}
        after: [wait_files]
  ingest:
    command: ["true"]
"""


def test_yaml_sensors_load_with_their_conditions(load: Callable[[str], Definitions]) -> None:
    tasks = load(SENSED).jobs["daily"].tasks
    files = tasks["wait_files"].sensor
    assert files is not None
    assert (files.kind, files.target, files.interval, files.timeout, files.on_timeout) == (
        SensorKind.FILE,
        "/data/in/{{ds}}/*.csv",
        60.0,
        6 * 3600.0,
        OnTimeout.SKIP,
    )
    api = tasks["wait_api"].sensor
    assert api is not None
    assert (api.status, api.interval) == (204, 60.0)
    assert tasks["wait_cmd"].kind == "sensor"
    assert tasks["wait_cmd"].after == ("wait_files",)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("          interval: 1m\n          timeout: 6h\n", "          interval: 1m\n"),
            "jobs.yaml:5: job 'daily', task 'wait_files', key 'sensor': a sensor needs "
            "'timeout': how long to wait before giving up",
        ),
        (
            ('"/data/in/{{ds}}/*.csv"', '"/data/in/{{day}}/*.csv"'),
            "key 'sensor.file': unknown template value {{day}} (known: ds, ds_nodash, ts, "
            "run_id, job, params.NAME)",
        ),
        (
            ("{job: ingest, timeout: 2h}", "{job: ingest, file: x, timeout: 2h}"),
            "key 'sensor': a sensor needs exactly one of file, http, sql, job, command, python "
            "(got file, job)",
        ),
        (
            ('db_url: "sqlite:///w.db", ', ""),
            "key 'sensor.db_url': an sql sensor needs 'db_url', and only it takes one",
        ),
        (
            ('"https://api.example.com', '"ftp://api.example.com'),
            "key 'sensor.http': expected an http:// or https:// URL",
        ),
        (
            ("        after: [wait_files]\n", "        after: [wait_files]\n        retries: 2\n"),
            "key 'retries': a sensor task takes no 'retries'",
        ),
        (
            ("interval: 1m", "intervall: 1m"),
            "key 'sensor': unknown key 'intervall' (did you mean 'interval'?)",
        ),
    ],
)
def test_a_bad_sensor_is_rejected_naming_job_task_and_key(
    error: Error, change: tuple[str, str], message: str
) -> None:
    text = SENSED.replace(*change)
    assert text != SENSED
    assert message in error(text)


def ready() -> bool:
    return True


def test_python_sensor_adds_a_sensor_task() -> None:
    @job
    def daily() -> None:
        wait = sensor("wait", python=ready, interval="10s", timeout="1h", on_timeout="skip")
        command("load", ["true"], after=[wait])

    wait = daily.tasks["wait"].sensor
    assert wait is not None
    assert (wait.kind, wait.target, wait.interval) == (SensorKind.PYTHON, ready, 10.0)
    assert daily.tasks["load"].after == ("wait",)
    with pytest.raises(DefinitionError, match="expected a function returning true when ready"):

        @job
        def broken() -> None:
            sensor("wait", python="mod:fn", timeout="1h")
