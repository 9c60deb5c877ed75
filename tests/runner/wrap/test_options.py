"""`runwatch wrap` options: parsed by hand, and never in the way of the command."""

from __future__ import annotations

from runner.wrap.options import parse_wrap_args


def test_options_before_the_double_dash_configure_the_run() -> None:
    options = parse_wrap_args(
        [
            "--job",
            "etl",
            "--schedule",
            "0 2 * * *",
            "--timezone=Europe/Berlin",
            "--grace",
            "5m",
            "--timeout",
            "1h",
            "--expected-duration",
            "90s",
            "--retries",
            "2",
            "--retry-delay",
            "30",
            "--owner",
            "data",
            "--tag",
            "a",
            "--tag",
            "b",
            "--overlap",
            "skip",
            "--",
            "python3",
            "etl.py",
            "--full",
        ]
    )

    assert options.problems == []
    assert (options.job, options.schedule, options.timezone) == (
        "etl",
        "0 2 * * *",
        "Europe/Berlin",
    )
    assert (options.grace, options.timeout, options.expected_duration) == (300.0, 3600.0, 90.0)
    assert (options.retries, options.retry_delay, options.owner) == (2, 30.0, "data")
    assert (options.tags, options.overlap) == (["a", "b"], "skip")
    assert options.command == ["python3", "etl.py", "--full"]


def test_the_command_may_start_without_a_double_dash() -> None:
    options = parse_wrap_args(["--job", "x", "ls", "-la", "--", "/tmp"])

    assert options.command == ["ls", "-la", "--", "/tmp"]


def test_words_after_the_double_dash_are_never_options() -> None:
    options = parse_wrap_args(["--job", "x", "--", "--job", "y"])

    assert (options.job, options.command) == ("x", ["--job", "y"])


def test_a_bad_value_is_a_problem_and_keeps_the_default() -> None:
    options = parse_wrap_args(
        ["--job", "x", "--grace", "soon", "--retries", "-1", "--overlap", "queue", "--", "true"]
    )

    assert options.grace is None
    assert options.retries == 0
    assert options.overlap == "allow"
    assert [p.split(" ")[0] for p in options.problems] == ["--grace", "--retries", "--overlap"]
    assert options.command == ["true"]


def test_an_unknown_option_or_a_missing_value_is_a_problem_not_a_crash() -> None:
    assert (
        parse_wrap_args(["--jbo", "x", "--", "true"]).problems[0] == "unknown option --jbo ignored"
    )
    missing = parse_wrap_args(["--job"])
    assert (missing.problems, missing.command) == (["--job needs a value"], [])


def test_a_server_that_is_not_an_http_url_is_ignored_with_a_problem() -> None:
    options = parse_wrap_args(["--job", "x", "--server", "h:9464", "--", "true"])

    assert options.server is None
    assert options.problems == ["--server 'h:9464' ignored: expected an http(s):// URL"]
    assert parse_wrap_args(["--job", "x", "--server", "https://h", "--", "true"]).problems == []


def test_help_documents_every_option() -> None:
    from runner.wrap.options import _OPTIONS, HELP

    missing = [name for name in _OPTIONS if f"  {name} " not in HELP and f"  {name}\n" not in HELP]
    assert missing == []
    assert "-h, --help" in HELP
