"""The cron emulator the crontab tests judge by, checked against what cron is known to do
(cronie's and vixie cron's documented and source-level behaviour)."""

from __future__ import annotations

from pathlib import Path

from tests.runner.cron_emulator import read_crontab, run_entry


def test_only_a_newline_ends_a_line_for_cron() -> None:
    entries = read_crontab("# note\x1e* * * * * touch a\n* * * * * echo b\u2028c\fd\r\n")

    assert [entry.command for entry in entries] == ["echo b\u2028c\fd\r"]


def test_cron_skips_junk_after_a_valid_field_and_ignores_bad_lines() -> None:
    text = "*x * * * * lenient\n5x * * * * bad\n5/10 * * * * bad\n61 * * * * bad\n* * * * * * bad\n"

    entries = read_crontab(text)

    assert [(entry.when[0], entry.command) for entry in entries if entry.when] == [
        (frozenset(range(60)), "lenient")
    ]


def test_cron_reads_ranges_steps_names_and_macros() -> None:
    (ranged, daily, reboot) = read_crontab(
        "0-30/15 */12 1,15 jan-mar mon-fri a\n@daily b\n@reboot c\n"
    )

    assert ranged.when == (
        frozenset({0, 15, 30}),
        frozenset({0, 12}),
        frozenset({1, 15}),
        frozenset({1, 2, 3}),
        frozenset({1, 2, 3, 4, 5}),
    )
    assert daily.when is not None
    assert daily.when[:2] == (frozenset({0}), frozenset({0}))
    assert reboot.when is None


def test_cron_builds_the_environment_from_assignments_and_its_defaults() -> None:
    (entry,) = read_crontab('A = 50% "x" \nB="  y  "\n* * * * * env\n', user="alice", home="/h")

    assert entry.env == {
        "A": '50% "x"',
        "B": "  y  ",
        "SHELL": "/bin/sh",
        "HOME": "/h",
        "PATH": "/usr/bin:/bin",
        "LOGNAME": "alice",
        "USER": "alice",
    }


def test_a_system_crontab_entry_runs_as_its_user_column() -> None:
    entries = read_crontab("* * * * * alice echo hi\n* * * * * /no/user\n", system=True)

    assert [(entry.user, entry.command) for entry in entries] == [("alice", "echo hi")]


def test_a_last_line_without_a_newline_never_runs() -> None:
    assert read_crontab("* * * * * echo last") == []


def test_the_percent_rule_feeds_standard_input(tmp_path: Path) -> None:
    (entry,) = read_crontab(r"* * * * * cat; echo a\\%x\%y%z%" + "\n", home=str(tmp_path))

    ran = run_entry(entry)

    assert ran.output == b"x%y\nz\na\\\n"  # `cat; echo a\\` reading "x%y\nz\n"
