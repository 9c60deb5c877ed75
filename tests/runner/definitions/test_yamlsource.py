"""The YAML reader: key lines, duplicate keys, YAML 1.2 booleans, syntax errors."""

from __future__ import annotations

import pytest

from runner.definitions.yamlsource import YamlMapping, parse_yaml, to_plain
from runner.errors import DefinitionError


def test_every_mapping_knows_the_line_of_each_key() -> None:
    data = parse_yaml("a: 1\nb:\n  c: 2\n\n  d: 3\n", "f.yaml")

    assert isinstance(data, YamlMapping)
    assert (data.line, data.line_of("a"), data.line_of("b")) == (1, 1, 2)
    nested = data["b"]
    assert (nested.line_of("c"), nested.line_of("d")) == (3, 5)
    assert nested.line_of("missing") == nested.line == 3


def test_a_duplicate_key_is_rejected_naming_both_lines() -> None:
    with pytest.raises(DefinitionError) as caught:
        parse_yaml("jobs:\n  a: 1\n  b: 2\n  a: 3\n", "f.yaml")

    assert str(caught.value) == "f.yaml:4: duplicate key 'a' (first defined on line 2)"


def test_a_duplicate_key_in_a_flow_mapping_is_rejected() -> None:
    with pytest.raises(DefinitionError, match=r"^f\.yaml:1: duplicate key 'x'"):
        parse_yaml("{x: 1, x: 2}", "f.yaml")


def test_a_merge_key_may_be_overridden_without_a_duplicate_error() -> None:
    data = parse_yaml("base: &b {x: 1, y: 2}\nmine:\n  <<: *b\n  x: 3\n", "f.yaml")

    assert isinstance(data, YamlMapping)
    assert data["mine"] == {"x": 3, "y": 2}
    assert data["mine"].line_of("x") == 4


@pytest.mark.parametrize("word", ["yes", "no", "on", "off", "Yes", "NO"])
def test_only_true_and_false_are_booleans(word: str) -> None:
    data = parse_yaml(f"value: {word}\n{word}: key\nflag: true\nother: False\n", "f.yaml")

    assert data == {"value": word, word: "key", "flag": True, "other": False}


def test_more_than_one_document_is_a_syntax_error() -> None:
    with pytest.raises(
        DefinitionError, match=r"^f\.yaml:2: invalid YAML: but found another document"
    ):
        parse_yaml("a: 1\n---\nb: 2\n", "f.yaml")


def test_a_tab_indent_gets_a_hint() -> None:
    with pytest.raises(DefinitionError, match=r"^f\.yaml:2: .*indent YAML with spaces, not tabs$"):
        parse_yaml("a:\n\tb: 1\n", "f.yaml")


def test_unsafe_tags_are_refused() -> None:
    with pytest.raises(DefinitionError, match=r"^f\.yaml:1: invalid YAML: .*python/object"):
        parse_yaml("a: !!python/object/apply:os.system ['true']\n", "f.yaml")


def test_to_plain_turns_yaml_mappings_into_dicts() -> None:
    plain = to_plain(parse_yaml("a: [{b: 1}]\n", "f.yaml"))

    assert type(plain) is dict
    assert type(plain["a"][0]) is dict
