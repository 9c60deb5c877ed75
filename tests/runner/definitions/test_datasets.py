"""Tasks declare the datasets they read and write in YAML and in Python; bad ones are
refused with the file, line, job, task and key named."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from runner import job, task
from runner.dataset_names import Dataset
from runner.errors import DefinitionError
from runner.model import Definitions
from tests.e2e.cli import clean_env, run_cli

ORDERS = Dataset("postgres://warehouse:5432", "analytics.public.orders")
RAW = Dataset("file", "/data/in/orders.csv")


def test_yaml_tasks_declare_inputs_and_outputs_by_uri_or_namespace_and_name(
    load: Callable[[str], Definitions],
) -> None:
    defs = load(
        """
        jobs:
          etl:
            tasks:
              load:
                command: ["true"]
                inputs: ["file:///data/in/orders.csv"]
                outputs:
                  - postgres://warehouse:5432/analytics.public.orders
                  - {namespace: kafka://broker:9092, name: orders-topic}
          report:
            command: ["true"]
            inputs: postgres://warehouse:5432/analytics.public.orders
        """
    )
    etl = defs.jobs["etl"].tasks["load"]
    assert etl.inputs == (RAW,)
    assert etl.outputs == (ORDERS, Dataset("kafka://broker:9092", "orders-topic"))
    assert defs.jobs["report"].tasks["report"].inputs == (ORDERS,)


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            "outputs: [orders]",
            "key 'outputs': expected a dataset URI such as postgres://host:5432/db.schema.table",
        ),
        ("inputs: [{namespace: file}]", "key 'inputs': a dataset mapping needs both"),
        ("inputs: [{namespace: file, nam: x}]", "unknown key 'nam' (did you mean 'name'?)"),
        ("outputs: 3", "key 'outputs': expected a list of dataset URIs"),
        (
            "outputs: [postgres://u:pw@h:5432/a.b.c]",
            "key 'outputs': a dataset URI names data, not credentials",
        ),
    ],
)
def test_a_bad_dataset_names_the_file_line_job_task_and_key(
    error: Callable[..., str], lines: str, message: str
) -> None:
    text = 'jobs:\n  etl:\n    tasks:\n      load:\n        command: ["x"]\n' + f"        {lines}\n"
    got = error(text)
    assert got.startswith("jobs.yaml:6: job 'etl', task 'load'"), got
    assert message in got
    assert "pw@" not in got


def test_python_tasks_and_commands_declare_datasets() -> None:
    @task(outputs=["postgres://warehouse:5432/analytics.public.orders"], inputs=[RAW.uri])
    def load_orders() -> None:
        pass

    @job
    def nightly() -> None:
        from runner import command

        load_orders()
        command("report", ["true"], inputs=[{"namespace": ORDERS.namespace, "name": ORDERS.name}])

    assert nightly.tasks["load_orders"].outputs == (ORDERS,)
    assert nightly.tasks["load_orders"].inputs == (RAW,)
    assert nightly.tasks["report"].inputs == (ORDERS,)


def test_a_bad_python_dataset_is_a_definition_error_naming_the_key() -> None:
    with pytest.raises(DefinitionError, match="key 'outputs': a s3:// dataset URI names its host"):

        @task(outputs=["s3:///no-bucket"])
        def broken() -> None:
            pass


def test_runwatch_check_refuses_a_bad_dataset_with_exit_code_2(tmp_path: Path) -> None:
    (tmp_path / "jobs.yaml").write_text(
        'jobs:\n  etl:\n    command: ["true"]\n    outputs: [orders]\n'
    )
    done = run_cli(tmp_path, clean_env(tmp_path / "home"), "check", "--jobs", "jobs.yaml")
    assert done.returncode == 2, done
    assert "jobs.yaml:4: job 'etl', key 'outputs': expected a dataset URI" in done.stderr
    assert "Traceback" not in done.stderr
