"""The Python API: @task, @job and command(), inside and outside a job body."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest

import runner
from runner import Skip, command, job, task
from runner.definitions.python_api import TaskFunction, TaskRef
from runner.errors import DefinitionError, DependencyCycleError, InvalidScheduleError
from runner.model import Job, Overlap, TriggerRule, UpstreamResult

HERE = __file__


def _line() -> int:
    """The line of the caller."""
    frame = inspect.currentframe()
    assert frame is not None
    assert frame.f_back is not None
    return frame.f_back.f_lineno


@task(retries=2, retry_delay="1s")
def extract() -> str:
    return "/tmp/x.csv"


@task
def transform(path: str, factor: int = 2) -> int:
    return len(path) * factor


def test_calls_inside_a_job_body_become_tasks_wired_by_their_results() -> None:
    @job(schedule="0 2 * * *", timezone="Europe/Berlin", owner="data", tags=["etl"], max_parallel=4)
    def nightly_etl() -> None:
        p = extract()
        n = transform(p, factor=3)
        command("report", ["python", "report.py"], after=[n])

    assert isinstance(nightly_etl, Job)
    assert nightly_etl.name == "nightly_etl"
    assert nightly_etl.source == HERE
    assert (nightly_etl.schedule, nightly_etl.timezone, nightly_etl.owner) == (
        "0 2 * * *",
        "Europe/Berlin",
        "data",
    )
    assert (nightly_etl.tags, nightly_etl.max_parallel) == (("etl",), 4)
    tasks = nightly_etl.tasks
    assert list(tasks) == ["extract", "transform", "report"]
    assert tasks["extract"].python is extract.function
    assert (tasks["extract"].retries, tasks["extract"].retry_delay) == (2, 1.0)
    assert tasks["transform"].args == (UpstreamResult("extract"),)
    assert tasks["transform"].kwargs == (("factor", 3),)
    assert tasks["transform"].after == ("extract",)
    assert tasks["report"].command == ("python", "report.py")
    assert tasks["report"].after == ("transform",)
    assert tasks["report"].kind == "command"


def test_a_task_function_called_outside_a_job_is_a_plain_call() -> None:
    assert extract() == "/tmp/x.csv"
    assert transform("abcd", factor=3) == 12
    assert transform.__name__ == "transform"
    assert isinstance(transform, TaskFunction)


def test_a_task_function_can_be_used_by_two_jobs() -> None:
    @job
    def first() -> None:
        transform(extract())

    @job(name="second-job", overlap="queue")
    def second() -> None:
        extract()

    assert list(first.tasks) == ["extract", "transform"]
    assert second.name == "second-job"
    assert second.overlap == Overlap.QUEUE
    assert list(second.tasks) == ["extract"]
    assert second.tasks["extract"].after == ()


def test_using_a_task_twice_in_one_job_suggests_with_options() -> None:
    with pytest.raises(DefinitionError) as caught:

        @job
        def twice() -> None:
            extract()
            extract()

    first = _line() - 3
    assert str(caught.value) == (
        f"{HERE}:{first + 1}: job 'twice', task 'extract': task 'extract' is already used in "
        f"this job (line {first}); to use it again, give it its own name: "
        'extract.with_options(name="extract_2")(...)'
    )


def test_with_options_makes_a_new_task_function_and_leaves_the_original() -> None:
    extract_eu = extract.with_options(name="extract_eu", retries=5, env={"REGION": "eu"})

    @job
    def both() -> None:
        transform(extract())
        transform.with_options(name="transform_eu")(extract_eu(), factor=1)

    tasks = both.tasks
    assert list(tasks) == ["extract", "transform", "extract_eu", "transform_eu"]
    assert (tasks["extract_eu"].retries, tasks["extract_eu"].env) == (5, {"REGION": "eu"})
    assert tasks["extract_eu"].retry_delay == 1.0  # kept from @task
    assert tasks["transform_eu"].args == (UpstreamResult("extract_eu"),)
    assert (extract.task_name, extract.options["retries"]) == ("extract", 2)
    assert extract_eu() == "/tmp/x.csv"


def test_after_orders_tasks_without_passing_data() -> None:
    @job
    def ordered() -> None:
        first = command("prepare", "make prepare")
        extract(after=[first])
        command("notify", "true", after="extract", trigger="all_done")

    tasks = ordered.tasks
    assert tasks["extract"].after == ("prepare",)
    assert tasks["extract"].args == ()
    assert tasks["extract"].kwargs == ()
    assert tasks["notify"].after == ("extract",)
    assert tasks["notify"].trigger == TriggerRule.ALL_DONE


def test_job_defaults_apply_to_tasks_that_do_not_set_the_option() -> None:
    @job(defaults={"retries": 4, "timeout": "1m", "env": {"A": "job", "B": "job"}})
    def with_defaults() -> None:
        extract()
        command("shell", "true", env={"B": "task"})

    tasks = with_defaults.tasks
    assert (tasks["extract"].retries, tasks["shell"].retries) == (2, 4)
    assert tasks["extract"].timeout == tasks["shell"].timeout == 60.0
    assert tasks["shell"].env == {"A": "job", "B": "task"}


def test_a_relative_cwd_is_relative_to_the_defining_file() -> None:
    @job
    def in_folder() -> None:
        command("a", "true", cwd="data")

    assert in_folder.tasks["a"].cwd == str(Path(HERE).parent / "data")


def test_job_options_are_validated_like_yaml_naming_the_file_and_job() -> None:
    with pytest.raises(InvalidScheduleError) as caught:

        @job(schedule="61 * * * *")
        def bad_schedule() -> None:
            command("a", "true")

    assert str(caught.value).startswith(
        f"{HERE}:{_line() - 5}: job 'bad_schedule', key 'schedule': schedule '61 * * * *': "
        "minute field '61' is invalid"
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_parallel": 0}, "key 'max_parallel': expected a whole number >= 1, got 0"),
        ({"timezone": "Mars/Olympus"}, "key 'timezone': unknown timezone 'Mars/Olympus'"),
        ({"scedule": "@daily"}, "unknown key 'scedule' (did you mean 'schedule'?)"),
        ({"name": "has space"}, "job name must be letters, digits"),
        ({"defaults": {"retires": 1}}, "key 'defaults': unknown key 'retires' (did you mean"),
        ({"tags": "etl"}, "key 'tags': expected a list of non-empty strings, got 'etl'"),
    ],
)
def test_bad_job_options_are_rejected(options: dict[str, Any], message: str) -> None:
    def body() -> None:
        command("a", "true")

    with pytest.raises(DefinitionError) as caught:
        job(**options)(body)

    assert str(caught.value).startswith(f"{HERE}:")
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"retires": 1}, "task 'extract': unknown key 'retires' (did you mean 'retries'?)"),
        ({"retries": -1}, "key 'retries': expected a whole number >= 0, got -1"),
        ({"skip_exit_code": 3}, "key 'skip_exit_code': only command tasks have an exit code"),
        ({"trigger": "always"}, "key 'trigger': expected one of all_success"),
        ({"name": "a/b"}, "task name must be letters, digits"),
    ],
)
def test_bad_task_options_are_rejected_at_decoration(options: dict[str, Any], message: str) -> None:
    def extract() -> None:
        return None

    with pytest.raises(DefinitionError) as caught:
        task(**options)(extract)

    assert str(caught.value).startswith(f"{HERE}:")
    assert message in str(caught.value)


def test_arguments_the_function_cannot_take_are_rejected() -> None:
    with pytest.raises(DefinitionError) as caught:

        @job
        def wrong_call() -> None:
            transform(factor=3)

    assert str(caught.value) == (
        f"{HERE}:{_line() - 3}: job 'wrong_call', task 'transform', key 'kwargs': "
        "cannot call transform() with these arguments: missing a required argument: 'path'"
    )


def test_a_result_nested_in_a_list_is_rejected() -> None:
    with pytest.raises(DefinitionError, match="only be passed as a whole argument"):

        @job
        def nested() -> None:
            transform([extract()])


def test_a_reference_from_another_job_is_rejected() -> None:
    refs: list[TaskRef] = []

    @job
    def one() -> None:
        refs.append(command("a", "true"))

    with pytest.raises(DefinitionError, match="task 'a' belongs to job 'one', not this one"):

        @job
        def two() -> None:
            command("b", "true", after=refs)


def test_an_unknown_after_name_is_rejected() -> None:
    with pytest.raises(DefinitionError, match="task 'b', key 'after': unknown upstream task 'c'"):

        @job
        def unknown() -> None:
            command("a", "true")
            command("b", "true", after=["c"])


def test_a_cycle_through_names_is_rejected() -> None:
    with pytest.raises(DependencyCycleError) as caught:

        @job
        def cyclic() -> None:
            command("a", "true", after="b")
            command("b", "true", after="a")

    assert caught.value.cycle == ["a", "b", "a"]


def test_two_tasks_with_one_name_are_rejected() -> None:
    with pytest.raises(DefinitionError, match="a task named 'a' is already in this job"):

        @job
        def clash() -> None:
            command("a", "true")
            command("a", "false")


def test_a_job_body_must_add_a_task() -> None:
    with pytest.raises(DefinitionError, match="job 'empty': the job body added no tasks"):

        @job
        def empty() -> None:
            return None


def test_a_job_function_takes_no_arguments() -> None:
    def needs(x: int) -> None:
        command("a", "true")

    with pytest.raises(DefinitionError, match="job 'needs': a @job function takes no arguments"):
        job(needs)  # type: ignore[arg-type]


def test_command_outside_a_job_body_is_an_error_naming_the_line() -> None:
    with pytest.raises(DefinitionError) as caught:
        command("a", "true")

    assert str(caught.value) == (
        f"{HERE}:{_line() - 3}: command() can only be called inside a @job function body"
    )


def test_command_checks_its_command() -> None:
    with pytest.raises(
        DefinitionError, match="task 'a', key 'command': the command is an empty list"
    ):

        @job
        def empty_command() -> None:
            command("a", [])


def test_the_public_api_is_what_all_says() -> None:
    assert sorted(runner.__all__) == ["Branch", "Skip", "command", "job", "sensor", "task"]
    assert all(hasattr(runner, name) for name in runner.__all__)
    assert Skip is runner.model.Skip
