"""Values that parse but cannot be honoured are refused when read, naming file, job and key.

Each of these passed `runwatch check` once and then made `serve` exit at the first fire
time: out-of-range durations, NaN, huge counts, names the store cannot hold, NUL bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from runner.definitions.yamlsource import MAX_YAML_NODES, parse_yaml, read_yaml
from runner.durations import MAX_DURATION_SECONDS, parse_duration
from runner.errors import DefinitionError

Error = Callable[..., str]


def _job(lines: str) -> str:
    extra = "".join(f"    {line}\n" for line in lines.splitlines())
    return 'jobs:\n  etl:\n    command: ["x"]\n' + extra


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("timeout: .inf", "a duration can be at most 3650d (ten years), got inf"),
        (
            "timeout: 999999999999w",
            "a duration can be at most 3650d (ten years), got '999999999999w'",
        ),
        ("retry_delay: .nan", "expected a duration such as 30s, 5m or 2h, got nan"),
        ("grace: -.inf", "a duration cannot be negative, got -inf"),
        (
            "retries: 99999999999999999999",
            "expected a whole number of at most 2147483647, got 99999999999999999999",
        ),
    ],
)
def test_out_of_range_values_are_refused_naming_the_key(
    error: Error, line: str, problem: str
) -> None:
    key = line.split(":", maxsplit=1)[0]
    assert error(_job(line)) == f"jobs.yaml:4: job 'etl', key '{key}': {problem}"


def test_the_longest_duration_is_accepted_and_one_more_second_is_not() -> None:
    assert parse_duration(MAX_DURATION_SECONDS) == MAX_DURATION_SECONDS
    assert parse_duration("3650d") == MAX_DURATION_SECONDS
    with pytest.raises(ValueError, match="at most 3650d"):
        parse_duration(MAX_DURATION_SECONDS + 1)


def test_a_job_name_longer_than_the_store_holds_is_refused(error: Error) -> None:
    name = "j" * 201
    message = error(f'jobs:\n  {name}:\n    command: ["x"]\n')
    assert message.endswith("job name can be at most 200 characters, got 201")
    assert error(f'jobs:\n  {"j" * 200}:\n    command: "x"\n    retries: -1\n').endswith(
        "key 'retries': expected a whole number >= 0, got -1"
    )


@pytest.mark.parametrize("command", ['"echo a\\0b"', '["echo", "a\\0b"]'])
def test_a_nul_byte_in_a_command_is_refused(error: Error, command: str) -> None:
    message = error(f"jobs:\n  etl:\n    command: {command}\n")
    assert message.startswith("jobs.yaml:3: job 'etl'")
    assert "a command cannot contain a NUL byte" in message


def _laughs(levels: int) -> str:
    lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, levels):
        refs = ",".join([f"*l{level - 1}"] * 9)
        lines.append(f"l{level}: &l{level} [{refs}]")
    return "\n".join(lines) + "\n"


def test_a_billion_laughs_document_is_refused_before_it_is_expanded() -> None:
    with pytest.raises(DefinitionError) as caught:
        parse_yaml(_laughs(9), "runwatch.yaml")
    assert str(caught.value) == (
        f"runwatch.yaml:7: YAML aliases expand to more than {MAX_YAML_NODES:,} values: not read"
    )


def test_aliases_that_expand_modestly_are_still_read() -> None:
    data = parse_yaml(_laughs(4), "runwatch.yaml")
    assert isinstance(data, dict)
    assert len(data["l3"]) == 9


def test_a_document_nested_too_deeply_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("jobs: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(DefinitionError, match=r"deep\.yaml:1: invalid YAML: exceeded maximum"):
        read_yaml(path)


def test_a_file_larger_than_the_limit_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_bytes(b"# " + b"x" * (16 * 1024 * 1024) + b"\n")
    with pytest.raises(DefinitionError, match=r"huge\.yaml: larger than 16 MiB: not read"):
        read_yaml(path)


def test_a_typo_in_the_command_key_of_a_one_task_job_is_named(error: Error) -> None:
    assert error('jobs:\n  etl:\n    comand: "true"\n') == (
        "jobs.yaml:3: job 'etl': unknown key 'comand' (did you mean 'command'?)"
    )


def test_a_job_runbook_must_be_a_web_link(error: Error) -> None:
    assert error(_job("runbook: see the wiki")) == (
        "jobs.yaml:4: job 'etl', key 'runbook': expected an http(s) URL such as "
        "https://wiki.example/x, got 'see the wiki'"
    )
