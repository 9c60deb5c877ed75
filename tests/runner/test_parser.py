"""The command line parsed with its command's grammar alone (runner.cli.parser) reads
exactly as with the whole grammar, errors included."""

from __future__ import annotations

import pytest

from runner.cli.parser import build_parser, parse_arguments

VALID = [
    ["run", "nightly", "--param", "day=1", "--format", "json"],
    ["runs", "--limit", "5"],
    ["alerts", "routes", "show"],
    ["db", "prune", "--older-than", "90d"],
    ["jobs"],
    ["-v", "run", "nightly"],
]
WRONG = [
    ["run", "nightly", "--bogus"],
    ["runn", "nightly"],
    ["run"],
    ["db"],
    ["alerts", "routes", "--bogus"],
    ["runs", "--limit", "-3"],
]


@pytest.mark.parametrize("words", VALID)
def test_a_command_line_reads_as_the_whole_grammar_reads_it(words: list[str]) -> None:
    assert vars(parse_arguments(words)) == vars(build_parser().parse_args(words))


@pytest.mark.parametrize("words", WRONG)
def test_a_wrong_command_line_is_told_as_the_whole_grammar_tells_it(
    words: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as whole:
        build_parser().parse_args(words)
    expected = capsys.readouterr()
    with pytest.raises(SystemExit) as own:
        parse_arguments(words)
    assert own.value.code == whole.value.code == 2
    assert capsys.readouterr() == expected


def test_a_command_has_only_its_own_parser_built() -> None:
    parser = build_parser("run")
    [sub] = [a for a in parser._actions if a.dest == "command"]
    assert list(sub.choices) == ["run"]  # type: ignore[union-attr]
