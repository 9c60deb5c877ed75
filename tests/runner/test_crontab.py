"""Crontab import: every crontab syntax read as cron reads it, and the rewritten crontab
checked by behaviour — both run line by line in a cron-semantics emulator
(tests/runner/cron_emulator.py) must do the same, the rewritten lines through `wrap`."""

from __future__ import annotations

import random
from argparse import Namespace
from pathlib import Path

import pytest

from runner.crontab import (
    Assignment,
    CronJob,
    Rewrite,
    Unconvertible,
    Verbatim,
    import_crontab,
    job_names,
    parse_crontab,
)
from runner.crontab.naming import base_name
from runner.crontab.percent import UnencodableError, encode_command, split_command, stdin_text
from runner.definitions import load_definitions
from tests.runner.cron_emulator import fake_runwatch, run_crontab

USER_CRONTAB = r"""# m h dom mon dow command
MAILTO=ops@example.com
  PATH = /usr/local/bin:/usr/bin:/bin
GREETING="hello  world"
RATIO=100% sure

*/15 * * * * /usr/local/bin/backup.sh
0 2 * * 1-5 cd /srv/app && ./manage.py clearsessions > /var/log/cs.log 2>&1
30 3 1,15 jan-jun mon-fri /usr/bin/python3 /opt/etl/load_orders.py --full | logger -t etl
@reboot /usr/bin/redis-server /etc/redis.conf
@yearly /bin/true
@annually /bin/true
@monthly /bin/true
@weekly /bin/true
@daily find /tmp -mtime +7 -delete
@midnight /bin/true
@hourly curl -fsS -m 10 https://example.com/ping > /dev/null
0 0 1 * * date +\%Y-\%m >> /tmp/months
15 4 * * * mail -s "daily report" ops@example.com%Hello,%report attached%
CRON_TZ=Europe/Berlin
5 4 * * sun flock -n /tmp/x.lock php /var/www/artisan schedule:run
61 * * * * /bin/broken
@every5m /bin/nope
* * * /bin/too-few-fields
"""

SYSTEM_CRONTAB = r"""SHELL=/bin/bash
PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin
17 *	* * *	root    cd / && run-parts --report /etc/cron.hourly
25 6	* * *	root	test -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.daily )
@reboot www-data /usr/bin/php /var/www/worker.php
0 5 * * * /usr/bin/no-user
"""
REWRITE = Rewrite(runwatch="/opt/runwatch/bin/runwatch", config=Path("/etc/runwatch/rw.yaml"))
RW = "exec /opt/runwatch/bin/runwatch"


def by_number(text: str, *, system: bool = False) -> dict[int, object]:
    return {line.number: line for line in parse_crontab(text, system=system)}


def test_every_kind_of_line_is_recognised() -> None:
    lines = by_number(USER_CRONTAB)

    assert isinstance(lines[1], Verbatim)
    assert isinstance(lines[6], Verbatim)
    assert [lines[n].name for n in (2, 3, 4, 5)] == [  # type: ignore[attr-defined]
        "MAILTO",
        "PATH",
        "GREETING",
        "RATIO",
    ]
    assert isinstance(lines[2], Assignment)
    assert lines[4].value == "hello  world"  # type: ignore[attr-defined]
    assert lines[5].value == "100% sure"  # type: ignore[attr-defined]
    jobs = [line for line in lines.values() if isinstance(line, CronJob)]
    assert [job.timing for job in jobs] == [
        "*/15 * * * *",
        "0 2 * * 1-5",
        "30 3 1,15 jan-jun mon-fri",
        "@reboot",
        "@yearly",
        "@annually",
        "@monthly",
        "@weekly",
        "@daily",
        "@midnight",
        "@hourly",
        "0 0 1 * *",
        "15 4 * * *",
        "5 4 * * sun",
    ]
    assert [job.schedule for job in jobs][3] is None
    skipped = [line for line in lines.values() if isinstance(line, Unconvertible)]
    assert [line.number for line in skipped] == [22, 23, 24]


def test_the_percent_rule_splits_the_command_from_its_standard_input() -> None:
    lines = by_number(USER_CRONTAB)
    months, mail = lines[18], lines[19]
    assert isinstance(months, CronJob)
    assert isinstance(mail, CronJob)

    assert (months.command, months.raw_command, months.stdin) == (
        "date +%Y-%m >> /tmp/months",
        r"date +\%Y-\%m >> /tmp/months",
        None,
    )
    assert mail.command == 'mail -s "daily report" ops@example.com'
    assert mail.stdin == "Hello,\nreport attached\n"


@pytest.mark.parametrize(
    ("raw", "command", "stdin"),
    [
        (r"echo 100\%", "echo 100%", None),
        (r"echo a\\%rest", "echo a\\\\", "rest\n"),  # \\ is a pair: the % is free
        (r"echo a\\\%b", "echo a\\\\%b", None),
        (r"echo \x\%", "echo \\x%", None),
        ("cat%", "cat", ""),
        ("cat%a%b", "cat", "a\nb\n"),
        (r"cat%50\% off%", "cat", "50% off\n"),
        ("cat%a\\b", "cat", "a\\b\n"),
    ],
)
def test_percent_signs_are_read_as_cron_reads_them(raw: str, command: str, stdin: str) -> None:
    found, raw_stdin = split_command(raw)

    assert found == command
    assert (None if raw_stdin is None else stdin_text(raw_stdin)) == stdin


def test_encoding_a_command_for_cron_reads_back_exactly() -> None:
    rng = random.Random(12)
    alphabet = "ab %\\'\"$\r\f\x1e\u2028"
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(12)))
        unpaired = text.replace("\\\\", "")
        for stdin_follows in (False, True):
            impossible = "\\%" in unpaired or (stdin_follows and unpaired.endswith("\\"))
            try:
                raw = encode_command(text, stdin_follows=stdin_follows)
            except UnencodableError:
                assert impossible, text
                continue
            assert not impossible, text
            stdin = "x" if stdin_follows else None
            assert split_command(raw + ("%x" if stdin_follows else "")) == (text, stdin)


def test_assignments_apply_to_the_jobs_below_them() -> None:
    lines = by_number(USER_CRONTAB)
    before, after = lines[7], lines[21]
    assert isinstance(before, CronJob)
    assert isinstance(after, CronJob)

    assert before.env["PATH"] == "/usr/local/bin:/usr/bin:/bin"
    assert before.timezone is None
    assert after.timezone == "Europe/Berlin"
    assert before.shell == "/bin/sh"


@pytest.mark.parametrize(
    ("line", "value"),
    [
        ("A=plain", "plain"),
        ("A = spaced out  ", "spaced out"),
        ('A="  kept  "', "  kept  "),
        ("A=''", ""),
        ("A=50%", "50%"),
        ("A=x\r", "x"),
    ],
)
def test_assignments_every_cron_reads_alike_are_read(line: str, value: str) -> None:
    (found,) = parse_crontab(line + "\n")

    assert isinstance(found, Assignment)
    assert (found.name, found.value) == ("A", value)


@pytest.mark.parametrize(
    "line",
    [
        "A=x # comment",  # vixie cron stops at '#', cronie does not
        "'A' = x",  # cronie unquotes the name, vixie cron keeps the quotes
        'A="x" y',  # vixie cron keeps it as written, cronie ignores the line
        "A\t= x",  # vixie cron's name includes the tab
        "=x",  # cronie assigns an empty name
    ],
)
def test_assignments_crons_read_differently_are_not_guessed(line: str) -> None:
    (found,) = parse_crontab(line + "\n")

    assert isinstance(found, Unconvertible)
    assert "crons read this assignment differently" in found.reason


def test_a_job_below_an_unclear_shell_is_not_converted() -> None:
    lines = parse_crontab("SHELL=/bin/bash # login shell\n* * * * * echo hi\n")

    assert isinstance(lines[1], Unconvertible)
    assert "depends on SHELL, which line 1 sets" in lines[1].reason


def test_a_system_crontab_reads_the_user_column() -> None:
    lines = by_number(SYSTEM_CRONTAB, system=True)
    hourly, reboot, no_user = lines[3], lines[5], lines[6]
    assert isinstance(hourly, CronJob)
    assert isinstance(reboot, CronJob)

    assert (hourly.user, hourly.command) == ("root", "cd / && run-parts --report /etc/cron.hourly")
    assert (reboot.user, reboot.schedule, reboot.shell) == ("www-data", None, "/bin/bash")
    assert isinstance(no_user, Unconvertible)
    assert "expected a user name after the time fields, found '/usr/bin/no-user'" in (
        no_user.reason
    )


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("61 * * * * x", "minute 61 is out of range 0-59"),
        ("* 24 * * * x", "hour 24 is out of range 0-23"),
        ("* * 0 * * x", "day-of-month 0 is out of range 1-31"),
        ("* * * 13 * x", "month 13 is out of range 1-12"),
        ("* * * * 8 x", "day-of-week 8 is out of range 0-7"),
        ("1-61 * * * * x", "minute 61 in '1-61' is out of range 0-59"),
        ("5x * * * * x", "minute '5x' is not"),
        ("5/10 * * * * x", "a step needs a range or '*'"),
        ("*/0 * * * * x", "the step must be a whole number above 0"),
        ("30-10 * * * * x", "the range runs backwards"),
        ("* * * foo * x", "month 'foo' in 'foo' is not a number or a three-letter name"),
        ("* * * * * * x", "a sixth time field"),
        ("@DAILY x", "unknown time specifier '@DAILY'"),
        ("@daily", "no command"),
        ("-* * * * * x", "leading '-'"),
        ("* * * /bin/x", "expected five time fields"),
    ],
)
def test_lines_cron_would_ignore_are_named_with_the_reason(line: str, reason: str) -> None:
    (found,) = parse_crontab(line + "\n")

    assert isinstance(found, Unconvertible)
    assert reason in found.reason


def test_a_crontab_with_windows_line_endings_is_told_so() -> None:
    lines = parse_crontab("* * * * * echo hi\r\n\r\n")

    assert isinstance(lines[1], Unconvertible)
    assert "Windows line endings?" in lines[1].reason


def test_a_last_line_without_a_newline_is_not_converted() -> None:
    lines = parse_crontab("* * * * * echo first\n* * * * * echo last")

    assert isinstance(lines[0], CronJob)
    assert isinstance(lines[1], Unconvertible)
    assert "without a newline" in lines[1].reason


def test_unconverted_lines_are_kept_unchanged_after_a_comment() -> None:
    result = import_crontab(USER_CRONTAB)
    lines = result.crontab.splitlines()

    for number, original in [
        (22, "61 * * * * /bin/broken"),
        (23, "@every5m /bin/nope"),
        (24, "* * * /bin/too-few-fields"),
    ]:
        index = lines.index(original)
        assert lines[index - 1] == f"# runwatch import-crontab: line {number} kept as is"
    assert len(result.skipped) == 3


def test_comments_blank_lines_and_assignments_are_kept() -> None:
    crontab = import_crontab(USER_CRONTAB).crontab.splitlines()

    for kept in ("# m h dom mon dow command", "MAILTO=ops@example.com", "CRON_TZ=Europe/Berlin"):
        assert kept in crontab
    assert "  PATH = /usr/local/bin:/usr/bin:/bin" in crontab
    assert "" in crontab


@pytest.mark.parametrize(
    ("command", "name"),
    [
        ("/usr/local/bin/backup.sh", "backup"),
        ("cd /srv/app && ./manage.py clearsessions > /var/log/cs.log 2>&1", "manage-clearsessions"),
        ("/usr/bin/python3 /opt/etl/load_orders.py --full | logger -t etl", "load-orders"),
        ("python3 -m etl.jobs.nightly --date today", "nightly"),
        ("flock -n /tmp/x.lock php /var/www/artisan schedule:run", "artisan-schedule-run"),
        ("nice -n 19 ionice -c3 tar czf /backup/home.tgz /home", "tar-czf"),
        ("timeout 1h /opt/sync/run.sh", "run"),
        ("FOO=1 BAR=2 /usr/bin/env node /srv/app/cleanup.js", "cleanup"),
        ("cd / && run-parts --report /etc/cron.daily", "cron-daily"),
        ("/bin/bash -c 'source ~/.profile; /opt/report.sh'", "source"),
        ("certbot renew --quiet", "certbot-renew"),
        ("test -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.daily )", "test"),
        ("curl -fsS https://example.com/ping > /dev/null", "curl"),
        ("docker system prune -af", "docker-system"),
        ("'unbalanced quote", "unbalanced-quote"),
    ],
)
def test_names_are_read_from_the_command(command: str, name: str) -> None:
    assert base_name(command) == name


def test_names_are_unique_and_do_not_depend_on_line_order() -> None:
    text = "0 * * * * /opt/backup.sh db\n30 * * * * /opt/backup.sh files\n@daily /opt/report.py\n"
    reordered = "\n".join(reversed(text.splitlines())) + "\n"

    first = import_crontab(text).names
    second = import_crontab(reordered).names

    assert len(set(first)) == 3
    assert sorted(first) == sorted(second)
    assert "report" in first
    assert all(name.startswith("backup-") for name in first if name != "report")


def test_identical_lines_get_numbered_names() -> None:
    jobs = [
        line
        for line in parse_crontab("@daily /opt/x.sh\n@daily /opt/x.sh\n")
        if isinstance(line, CronJob)
    ]

    names = job_names(jobs)

    assert len(set(names)) == 2
    assert names[1] == names[0] + "-2"


def test_the_jobs_file_loads_as_runwatch_definitions(tmp_path: Path) -> None:
    result = import_crontab(USER_CRONTAB, source="crontab")
    path = tmp_path / "jobs.yaml"
    path.write_text(result.jobs_yaml)

    definitions = load_definitions([path])

    assert sorted(definitions.jobs) == sorted(result.names)
    backup = definitions.jobs["backup"]
    assert (backup.schedule, backup.tags) == ("*/15 * * * *", ("crontab",))
    assert backup.tasks["backup"].command == "/usr/local/bin/backup.sh"
    assert backup.tasks["backup"].env == {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "GREETING": "hello  world",
        "RATIO": "100% sure",
    }
    artisan = definitions.jobs["artisan-schedule-run"]
    assert artisan.timezone == "Europe/Berlin"
    assert definitions.jobs["redis-server"].schedule is None


def test_line_breaks_of_other_kinds_stay_inside_the_jobs_file_values(tmp_path: Path) -> None:
    command = "echo a\x1eb\u2028c\x85d\fe\rf\u2029g"
    result = import_crontab(f"* * * * * {command}\n")
    path = tmp_path / "jobs.yaml"
    path.write_text(result.jobs_yaml)

    definitions = load_definitions([path])

    (job,) = definitions.jobs.values()
    (task,) = job.tasks.values()
    assert task.command == command
    assert len(result.jobs_yaml.splitlines()) == result.jobs_yaml.count("\n")


def test_a_system_crontab_imports_with_its_shell_and_users(tmp_path: Path) -> None:
    result = import_crontab(SYSTEM_CRONTAB, system=True, source="/etc/crontab", rewrite=REWRITE)
    path = tmp_path / "jobs.yaml"
    path.write_text(result.jobs_yaml)

    definitions = load_definitions([path])

    hourly = definitions.jobs["cron-hourly"]
    assert hourly.tasks["cron-hourly"].command == (
        "/bin/bash",
        "-c",
        "cd / && run-parts --report /etc/cron.hourly",
    )
    assert "# cron runs it as user 'root'" in result.jobs_yaml
    lines = result.crontab.splitlines()
    assert (
        f"17 *\t* * *\troot    {RW} wrap --job cron-hourly "
        "--config /etc/runwatch/rw.yaml --schedule '17 * * * *' -- /bin/bash -c "
        "'cd / && run-parts --report /etc/cron.hourly'"
    ) in lines
    assert (
        f"@reboot www-data {RW} wrap --job worker --config "
        "/etc/runwatch/rw.yaml -- /bin/bash -c '/usr/bin/php /var/www/worker.php'"
    ) in lines


def test_rewritten_lines_name_the_job_its_settings_and_its_schedule() -> None:
    lines = import_crontab(USER_CRONTAB, rewrite=REWRITE).crontab.splitlines()

    assert (
        f"*/15 * * * * {RW} wrap --job backup --config "
        "/etc/runwatch/rw.yaml --schedule '*/15 * * * *' -- /bin/sh -c /usr/local/bin/backup.sh"
    ) in lines
    assert any(
        line.startswith(
            f"5 4 * * sun {RW} wrap --job artisan-schedule-run --config "
            "/etc/runwatch/rw.yaml --schedule '5 4 * * sun' --timezone Europe/Berlin -- "
        )
        for line in lines
    )


def test_without_a_settings_file_the_rewritten_lines_pass_no_config() -> None:
    lines = import_crontab("@daily /bin/true\n").crontab.splitlines()

    assert "@daily exec runwatch wrap --job true --schedule @daily -- /bin/sh -c /bin/true" in lines


def test_a_line_too_long_once_rewritten_is_not_converted() -> None:
    fits = "* * * * * echo " + "x" * 700
    too_long = "* * * * * echo " + "y" * 900
    lines = parse_crontab("\n".join([fits, too_long, "* * * * * echo " + "z" * 990]) + "\n")
    result = import_crontab("\n".join([fits, too_long]) + "\n", rewrite=REWRITE)

    assert [line.number for line in result.skipped] == [2]
    assert "the rewritten line would be" in result.skipped[0].reason
    assert isinstance(lines[2], Unconvertible)
    assert "some crons read only the first 999" in lines[2].reason


def test_a_command_its_shell_cannot_read_is_not_converted() -> None:
    result = import_crontab("* * * * * echo 'unbalanced\n* * * * * echo fine\n")

    assert [line.number for line in result.skipped] == [1]
    assert "the shell cannot read the command, under cron too: " in result.skipped[0].reason
    assert "nterminated" in result.skipped[0].reason


def test_a_free_percent_that_cuts_a_command_short_is_reported() -> None:
    result = import_crontab("* * * * * printf '%s\\n' cut short by the percent sign\n")

    assert "the shell cannot read the command" in result.skipped[0].reason


def test_a_job_under_an_unknown_cron_tz_is_not_converted() -> None:
    result = import_crontab("CRON_TZ=Mars/Olympus\n* * * * * echo hi\n")

    assert result.skipped[0].reason.startswith("CRON_TZ=Mars/Olympus: ")


def test_a_job_under_a_shell_that_is_not_posix_is_not_converted() -> None:
    result = import_crontab("SHELL=/usr/bin/fish\n* * * * * echo hi\n")

    assert "SHELL=/usr/bin/fish is not a POSIX shell" in result.skipped[0].reason


# -- behaviour: original and rewritten crontabs run in the cron emulator ------------------

CORPUS = r"""GREETING=hi there
RATIO=100% sure
QUOTED="  spaced  "
* * * * * echo plain words
0-30/15 1,2 * jan-mar mon-fri echo ranged
*/7 */2 1-31/3 * sun,sat echo stepped
<INDENT>*/5 * * * *<TAB>echo indented<TAB>and tabbed
@reboot echo booted > boot.txt
@daily date -u -d @0 +\%Y > year.txt
@hourly echo "$GREETING" "$RATIO" "[$QUOTED]" > env.txt
* * * * * echo "$HOME|$SHELL|$PATH|$LOGNAME|$USER" > cronenv.txt; pwd
* * * * * echo one | tr a-z A-Z
* * * * * echo 'single  quoted'  "double  $GREETING" and\ escaped
* * * * * cd /tmp && pwd; echo after
* * * * * false || echo fallback
* * * * * echo err >&2; echo out
* * * * * printf 'a\%sb\n' x
* * * * * cat%line one%line two
* * * * * cat > stdin.txt%with \% percent%
* * * * * echo a\\%ignored input
* * * * * tr a-z A-Z%x\\%y
* * * * * cat%
* * * * * echo "it's" 'say "hi"' > quotes.txt
* * * * * sh -c 'exit 3'
* * * * * kill -TERM $$
* * * * * for i in 1 2 3; do echo $i; done > loop.txt
* * * * * echo $(echo nested) `echo backticks`
* * * * * echo cr
* * * * * echo form\ffeed rs\x1e ls\u2028 nel\x85
* * * * * echo LONG_WORDS
CRON_TZ=Europe/Berlin
SHELL=/bin/bash
30 4 * * * echo "$BASH_VERSION" | cut -c1 > bash.txt
"""


def _corpus() -> str:
    text = CORPUS.replace("echo cr\n", "echo cr\r\n").replace("LONG_WORDS", "w " * 300)
    text = text.replace("<INDENT>", "  \t").replace("<TAB>", "\t")
    for escape, char in (
        ("\\f", "\f"),
        ("\\x1e", "\x1e"),
        ("\\u2028", "\u2028"),
        ("\\x85", "\x85"),
    ):
        text = text.replace(escape, char)
    return text


def assert_runs_alike(original: str, tmp_path: Path, *, system: bool = False) -> list[list[str]]:
    """Run both crontabs in the emulator; the same entries must do the same. The argv of
    `runwatch` for each rewritten entry (None when the line was kept unchanged)."""
    runwatch, log = fake_runwatch(tmp_path)
    config = tmp_path / "settings" / "runwatch.yaml"
    rewrite = Rewrite(runwatch=str(runwatch), config=config)
    rewritten = import_crontab(original, system=system, rewrite=rewrite).crontab
    home = tmp_path / "home"

    before = run_crontab(original, home=home, system=system)
    after = run_crontab(rewritten, home=home, system=system, wrap_log=log)

    assert [(o.entry.when, o.entry.user) for o in after] == [
        (o.entry.when, o.entry.user) for o in before
    ], "the rewrite must keep every entry, its times and its user, and add none"
    for old, new in zip(before, after, strict=True):
        assert (new.ran, new.files) == (old.ran, old.files), f"line {old.entry.line}"
        if new.wrap_argv is None:
            assert new.entry.command == old.entry.command
        else:
            assert new.wrap_argv[:2] == ["wrap", "--job"]
            assert new.wrap_argv[3:5] == ["--config", str(config)]
    return [o.wrap_argv or [] for o in after]


def test_the_rewritten_crontab_runs_every_command_exactly_as_cron_would(tmp_path: Path) -> None:
    text = _corpus()
    parsed = [line for line in parse_crontab(text) if isinstance(line, CronJob)]

    argvs = assert_runs_alike(text, tmp_path)

    assert len(argvs) == len(parsed) == 28
    assert all(argv for argv in argvs), "every line of the corpus goes through wrap"
    assert argvs[-1][-3:] == ["/bin/bash", "-c", 'echo "$BASH_VERSION" | cut -c1 > bash.txt']


def test_the_import_crontab_command_writes_both_files(tmp_path: Path) -> None:
    from runner.cli.commands.crontab import import_command

    source = tmp_path / "crontab.txt"
    source.write_text(USER_CRONTAB)
    args = Namespace(
        file=str(source),
        system=False,
        write=str(tmp_path / "out"),
        runwatch="runwatch",
        keep_unconverted=True,
        config=None,
    )
    ctx = Namespace(args=args, settings=Namespace(config_path=None), env={}, cwd=tmp_path)

    assert import_command(ctx) == 0  # type: ignore[arg-type]

    assert (tmp_path / "out" / "jobs.yaml").read_text().startswith("# Jobs imported from")
    assert "runwatch wrap --job backup" in (tmp_path / "out" / "crontab").read_text()
