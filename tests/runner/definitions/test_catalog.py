"""Loading several files and folders: merging jobs and pools, and what is skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.definitions import load_definitions
from runner.errors import DefinitionError
from tests.runner.definitions.conftest import Write


def _job(name: str) -> str:
    return f'jobs:\n  {name}:\n    command: "true"\n'


def test_a_folder_loads_its_job_files_sorted_skipping_private_nested_and_settings_files(
    write: Write, tmp_path: Path
) -> None:
    write("jobs/b.yaml", _job("from-b"))
    write("jobs/a.yml", _job("from-a"))
    write(
        "jobs/c.py",
        "from runner import command, job\n\n@job\ndef from_c():\n    command('x', 'true')\n",
    )
    write("jobs/_private.yaml", _job("private"))
    write("jobs/.hidden.yaml", _job("hidden"))
    write("jobs/notes.txt", "not yaml: [")
    write("jobs/nested/d.yaml", _job("nested"))
    write("jobs/runwatch.yaml", "workers: 2\njobs: .\n")

    definitions = load_definitions([tmp_path / "jobs"])

    assert list(definitions.jobs) == ["from-a", "from-b", "from_c"]
    assert definitions.jobs["from-a"].source == str(tmp_path / "jobs" / "a.yml")


def test_the_same_job_in_two_files_is_rejected_naming_both(write: Write) -> None:
    first = write("a.yaml", _job("etl"))
    second = write("b.yaml", _job("etl"))

    with pytest.raises(DefinitionError) as caught:
        load_definitions([first, second])

    assert str(caught.value) == f"job 'etl' is defined in both {first} and {second}"


def test_a_python_and_a_yaml_job_with_one_name_are_rejected(write: Write) -> None:
    yaml_file = write("a.yaml", _job("etl"))
    py_file = write(
        "b.py", "from runner import command, job\n\n@job\ndef etl():\n    command('x', 'true')\n"
    )

    with pytest.raises(
        DefinitionError, match=f"job 'etl' is defined in both {yaml_file} and {py_file}"
    ):
        load_definitions([yaml_file, py_file])


def test_pools_merge_across_files(write: Write) -> None:
    first = write("a.yaml", "pools: {db: 2, cpu: 4}\n")
    second = write("b.yaml", "pools: {db: 2, gpu: 1}\n" + _job("etl"))

    assert load_definitions([first, second]).pools == {"db": 2, "cpu": 4, "gpu": 1}


def test_a_pool_with_two_sizes_is_rejected_naming_both_files(write: Write) -> None:
    first = write("a.yaml", "pools: {db: 2}\n")
    second = write("b.yaml", "pools: {db: 3}\n")

    with pytest.raises(DefinitionError) as caught:
        load_definitions([first, second])

    assert str(caught.value) == f"pool 'db' has size 2 in {first} and size 3 in {second}"


def test_a_missing_path_is_rejected() -> None:
    with pytest.raises(DefinitionError) as caught:
        load_definitions([Path("no/such/jobs")])

    assert str(caught.value) == "jobs path 'no/such/jobs' does not exist"


def test_a_file_that_is_not_a_job_file_is_rejected_when_named(write: Write) -> None:
    path = write("jobs.json", "{}")

    with pytest.raises(DefinitionError, match=r"is not a \.yaml, \.yml or \.py file$"):
        load_definitions([path])


def test_a_file_named_twice_is_loaded_once(write: Write, tmp_path: Path) -> None:
    path = write("jobs/a.yaml", _job("etl"))

    assert list(load_definitions([tmp_path / "jobs", path]).jobs) == ["etl"]


SETTINGS_WITH_JOBS = """
workers: 2
db_url: sqlite:////tmp/x.db
telemetry: {enabled: true}
pools: {db: 1}
defaults: {retries: 2}
jobs:
  etl:
    command: "true"
    pool: db
"""


def test_the_settings_file_may_hold_jobs_next_to_settings(write: Write) -> None:
    path = write("runwatch.yaml", SETTINGS_WITH_JOBS)

    definitions = load_definitions([path], settings_file=path)

    assert definitions.pools == {"db": 1}
    assert definitions.jobs["etl"].tasks["etl"].retries == 2


def test_settings_keys_in_a_plain_job_file_are_rejected(write: Write) -> None:
    path = write("runwatch.yaml", SETTINGS_WITH_JOBS)

    with pytest.raises(DefinitionError, match=r"runwatch.yaml:1: unknown key 'workers'"):
        load_definitions([path])
