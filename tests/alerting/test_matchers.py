"""Alertmanager's matcher grammar and RE2 regexes, case by case (the amtool oracle in
test_amtool_oracle.py checks the same grammar wholesale)."""

from __future__ import annotations

import random

import pytest

from alerting.matchers import MatcherError, MatchOp, new_matcher, parse_matcher, parse_matchers


def test_one_string_may_hold_a_comma_list_of_matchers() -> None:
    found = parse_matchers('env="prod",severity="critical"')
    assert [(m.name, m.op, m.value) for m in found] == [
        ("env", MatchOp.EQUAL, "prod"),
        ("severity", MatchOp.EQUAL, "critical"),
    ]


def test_the_brace_form_takes_spaces_and_a_trailing_comma() -> None:
    found = parse_matchers('{env = "prod", team!="data, ml", }')
    assert [(m.name, m.value) for m in found] == [("env", "prod"), ("team", "data, ml")]
    assert parse_matchers("{}") == []


def test_quoted_values_unescape_backslash_quote_and_newline() -> None:
    assert parse_matcher(r'msg="a\\b\"c\nd"').value == 'a\\b"c\nd'
    assert parse_matcher(r"path=C:\tmp").value == "C:\\tmp"  # a lone backslash is literal


def test_an_escaped_dot_in_a_regex_matches_only_a_dot() -> None:
    matcher = parse_matcher(r'job=~"etl\\.nightly"')
    assert matcher.matches({"job": "etl.nightly"})
    assert not matcher.matches({"job": "etlxnightly"})


def test_label_names_may_hold_colons_or_be_quoted_utf8() -> None:
    assert parse_matcher("job:type=batch").name == "job:type"
    assert parse_matcher('"équipe de nuit"=data').name == "équipe de nuit"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'env="prod',
            "bad matcher 'env=\"prod': the value '\"prod' lacks its closing double quote",
        ),
        ('env=pr"od', "bad matcher 'env=pr\"od': the value 'pr\"od' has an unescaped double quote"),
        ("env=a,b", "in 'env=a,b': bad matcher 'b': expected label=value"),
        ("a=b,,c=d", "in 'a=b,,c=d': bad matcher '': expected label=value"),
        ("1env=prod", "bad matcher '1env=prod': expected label=value"),
        ("env~=prod", "bad matcher 'env~=prod': expected label=value"),
        ('a=~"(?=b)"', "bad matcher 'a=~\"(?=b)\"': invalid RE2 regular expression '(?=b)'"),
        ('a=~"b\\Z"', "bad matcher 'a=~\"b\\\\Z\"': invalid RE2 regular expression 'b\\\\Z'"),
    ],
)
def test_what_alertmanager_rejects_is_rejected_quoting_the_matcher(text: str, message: str) -> None:
    with pytest.raises(MatcherError) as error:
        parse_matchers(text)
    assert str(error.value).startswith(message)


def test_regexes_are_re2_and_fully_anchored() -> None:
    assert not parse_matcher(r'team=~"\w+"').matches({"team": "équipe"})
    assert parse_matcher('team=~"[[:alpha:]]+"').matches({"team": "data"})
    assert parse_matcher(r'team=~"\pL+"').matches({"team": "équipe"})
    assert parse_matcher(r'team=~"data\z"').matches({"team": "data"})
    assert not parse_matcher('team=~"ml"').matches({"team": "xml-team"})
    assert not parse_matcher('team=~"a|b"').matches({"team": "ab"})
    assert not parse_matcher('msg=~".*"').matches({"msg": "two\nlines"})


def test_an_absent_label_matches_as_the_empty_string() -> None:
    assert parse_matcher('team=""').matches({})
    assert parse_matcher("team!=data").matches({})
    assert parse_matcher('team!~".+"').matches({})


def test_a_matcher_written_out_parses_back_to_itself() -> None:
    rng = random.Random(13)
    alphabet = 'ab ,"\\\n{}=~!é日'
    for _ in range(300):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8)))
        name = rng.choice(["job", "a:b", "é q", 'x"y', "a,b"])
        written = new_matcher(name, rng.choice([MatchOp.EQUAL, MatchOp.NOT_EQUAL]), value)
        assert parse_matchers(str(written)) == [written], str(written)
