"""``branch_on_exit`` and the join trigger rule, in YAML and Python, and their rejections."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from runner import command, job
from runner.errors import DefinitionError
from runner.model import Definitions, TriggerRule

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
