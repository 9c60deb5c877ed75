"""Loading .py job files: collecting jobs, sibling imports, and one-line load errors."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from runner.definitions import load_definitions
from runner.errors import DefinitionError
from tests.runner.definitions.conftest import Write

JOB_FILE = """
from runner import command, job, task
from helpers_for_pyfile_test import double

@task
def produce() -> int:
    return double(21)

@task
def consume(value: int) -> None:
    print(value)

@job(schedule="@daily")
def numbers():
    consume(produce())

@job(name="shell-only")
def shell():
    command("hello", ["echo", "hello"])

alias = numbers
"""


def test_every_module_level_job_is_collected_with_its_file_as_source(write: Write) -> None:
    write("helpers_for_pyfile_test.py", "def double(n):\n    return 2 * n\n")
    path = write("numbers.py", JOB_FILE)

    definitions = load_definitions([path])

    assert list(definitions.jobs) == ["numbers", "shell-only"]
    numbers = definitions.jobs["numbers"]
    assert numbers.source == str(path)
    assert numbers.schedule == "@daily"
    produce = numbers.tasks["produce"].python
    assert produce is not None
    assert produce() == 42
    module_names = [name for name in sys.modules if name.startswith("runwatch_jobs_numbers_")]
    assert len(module_names) == 1
    assert sys.modules[module_names[0]].__file__ == str(path)


def test_an_exception_while_importing_is_one_line_with_the_line_number(
    error: Callable[..., str],
) -> None:
    text = "import os\n\nx = 1 / 0\n"

    assert error(text, "broken.py") == (
        "broken.py: error while loading: ZeroDivisionError: division by zero (line 3)"
    )


def test_an_exception_in_a_helper_points_at_the_job_files_line(
    write: Write, error: Callable[..., str]
) -> None:
    write("helper_that_fails_for_pyfile_test.py", "def boom():\n    raise KeyError('cfg')\n")
    text = "from helper_that_fails_for_pyfile_test import boom\n\nboom()\n"

    assert error(text, "calls.py") == "calls.py: error while loading: KeyError: 'cfg' (line 3)"


def test_a_syntax_error_is_one_line_with_the_line_number(error: Callable[..., str]) -> None:
    message = error("x = 1\ndef broken(:\n", "syntax.py")

    assert message.startswith("syntax.py: error while loading: SyntaxError: ")
    assert message.endswith("(line 2)")


def test_a_missing_import_is_reported_by_name(error: Callable[..., str]) -> None:
    assert error("import no_such_module_for_pyfile_test\n", "imports.py") == (
        "imports.py: error while loading: ModuleNotFoundError: "
        "No module named 'no_such_module_for_pyfile_test' (line 1)"
    )


def test_sys_exit_in_a_job_file_does_not_exit_the_runner(error: Callable[..., str]) -> None:
    assert error("import sys\nsys.exit(3)\n", "exits.py") == (
        "exits.py: error while loading: SystemExit: 3 (line 2)"
    )


def test_a_definition_error_in_a_job_file_passes_through_unchanged(
    error: Callable[..., str],
) -> None:
    text = (
        "from runner import command, job\n\n"
        "@job(schedule='@never')\ndef bad():\n    command('a', 'true')\n"
    )

    message = error(text, "bad.py")

    assert message.startswith(
        "bad.py:3: job 'bad', key 'schedule': schedule '@never': unknown alias"
    )


def test_two_jobs_with_one_name_in_a_file_are_rejected(error: Callable[..., str]) -> None:
    text = (
        "from runner import command, job\n\n"
        "@job(name='same')\ndef a():\n    command('a', 'true')\n\n"
        "@job(name='same')\ndef b():\n    command('b', 'true')\n"
    )

    assert error(text, "twice.py") == "twice.py: job 'same' is defined twice (as 'a' and 'b')"


def test_a_failed_import_leaves_no_half_loaded_module(write: Write) -> None:
    path = write("half.py", "raise RuntimeError('no')\n")

    with pytest.raises(DefinitionError):
        load_definitions([path])

    assert not [name for name in sys.modules if name.startswith("runwatch_jobs_half_")]


def test_the_same_stem_in_two_folders_gets_two_modules(write: Write, tmp_path: Path) -> None:
    body = (
        "from runner import command, job\n\n@job(name='{}')\ndef j():\n    command('a', 'true')\n"
    )
    first = write("one/jobs.py", body.format("first"))
    second = write("two/jobs.py", body.format("second"))

    definitions = load_definitions([first, second])

    assert sorted(definitions.jobs) == ["first", "second"]
