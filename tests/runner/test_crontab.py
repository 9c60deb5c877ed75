"""Crontab import: a corpus of every crontab syntax and real-world lines.

The rewritten crontab is checked by behaviour: each line, original and rewritten, is run
the way cron runs it (its ``%`` rule, then ``sh -c``) with a stand-in `runwatch` that
only executes what follows ``--``; both must print the same and exit the same.
"""

from __future__ import annotations

import os
import subprocess
from argparse import Namespace
from pathlib import Path

import pytest

from runner.crontab import (
    Assignment,
    CronJob,
    Unparsable,
    Verbatim,
    import_crontab,
    job_names,
    parse_crontab,
)
from runner.crontab.naming import base_name
from runner.definitions import load_definitions

USER_CRONTAB = r"""# m h dom mon dow command
MAILTO=ops@example.com
  PATH = /usr/local/bin:/usr/bin:/bin
GREETING="hello  world"
'QUOTED_NAME' = 'single quoted'

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
0 5 * * *
"""


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
        "QUOTED_NAME",
    ]
    assert isinstance(lines[2], Assignment)
    assert lines[4].value == "hello  world"  # type: ignore[attr-defined]
    assert lines[5].value == "single quoted"  # type: ignore[attr-defined]
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
    skipped = [line for line in lines.values() if isinstance(line, Unparsable)]
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


def test_assignments_apply_to_the_jobs_below_them() -> None:
    lines = by_number(USER_CRONTAB)
    before, after = lines[7], lines[21]
    assert isinstance(before, CronJob)
    assert isinstance(after, CronJob)

    assert before.env["PATH"] == "/usr/local/bin:/usr/bin:/bin"
    assert before.timezone is None
    assert after.timezone == "Europe/Berlin"
    assert before.shell == "/bin/sh"


def test_a_system_crontab_reads_the_user_column() -> None:
    lines = by_number(SYSTEM_CRONTAB, system=True)
    hourly, reboot, no_user = lines[3], lines[5], lines[6]
    assert isinstance(hourly, CronJob)
    assert isinstance(reboot, CronJob)

    assert (hourly.user, hourly.command) == ("root", "cd / && run-parts --report /etc/cron.hourly")
    assert (reboot.user, reboot.schedule, reboot.shell) == ("www-data", None, "/bin/bash")
    assert isinstance(no_user, Unparsable)
    assert "user name" in no_user.reason


def test_unparsable_lines_are_kept_unchanged_with_the_reason() -> None:
    result = import_crontab(USER_CRONTAB)
    lines = result.crontab.splitlines()

    for original, reason in [
        ("61 * * * * /bin/broken", "minute field '61' is invalid"),
        ("@every5m /bin/nope", "unknown macro '@every5m'"),
        ("* * * /bin/too-few-fields", "expected five time fields"),
    ]:
        index = lines.index(original)
        assert lines[index - 1].startswith("# runwatch import-crontab: line ")
        assert reason in lines[index - 1]
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
        "QUOTED_NAME": "single quoted",
    }
    artisan = definitions.jobs["artisan-schedule-run"]
    assert artisan.timezone == "Europe/Berlin"
    assert definitions.jobs["redis-server"].schedule is None


def test_a_system_crontab_imports_with_its_shell_and_users(tmp_path: Path) -> None:
    result = import_crontab(SYSTEM_CRONTAB, system=True, source="/etc/crontab")
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
    assert any(
        line.startswith("17 * * * * root runwatch wrap --job cron-hourly ") for line in lines
    )
    assert (
        "@reboot www-data runwatch wrap --job worker -- /usr/bin/php /var/www/worker.php" in lines
    )


def test_rewritten_lines_name_the_job_and_its_schedule() -> None:
    lines = import_crontab(USER_CRONTAB).crontab.splitlines()

    assert (
        "*/15 * * * * runwatch wrap --job backup --schedule '*/15 * * * *' "
        "-- /usr/local/bin/backup.sh"
    ) in lines
    assert (
        "@reboot runwatch wrap --job redis-server -- /usr/bin/redis-server /etc/redis.conf" in lines
    )
    assert any(
        line.startswith(
            "5 4 * * sun runwatch wrap --job artisan-schedule-run --schedule "
            "'5 4 * * sun' --timezone Europe/Berlin -- "
        )
        for line in lines
    )


# -- behaviour: original and rewritten lines do the same under cron ------------------------

REAL_WORLD = [
    "echo plain words",
    "echo one | tr a-z A-Z",
    "echo 'single  quoted'  \"double  $GREETING\" and\\ escaped",
    "cd /tmp && pwd; echo after",
    "false || echo fallback",
    "echo redirected > $OUT/file.txt 2>&1; cat $OUT/file.txt",
    "echo err >&2; echo out",
    "printf '%s\\n' 'it''s' && echo $((6 * 7))",
    "echo $(echo nested) `echo backticks`",
    "cat%first line%second line",
    "tr a-z A-Z%shout \\% louder%",
    "printf 'a\\%sb\\n' x",
    "sh -c 'exit 3'",
    "FOO=bar sh -c 'echo $FOO'",
    "for i in 1 2 3; do echo $i; done",
    "grep -c x%x%y%x",
    "echo \"quotes 'inside' double\" 'and \"inside\" single'",
    "test -e /nonexistent || ( cd / && echo subshell )",
]


def cron_split(command: str) -> tuple[str, str | None]:
    """cron's % rule, written independently of runner.crontab."""
    out, stdin = [], None
    index = 0
    while index < len(command):
        char = command[index]
        if char == "\\" and command[index + 1 : index + 2] == "%":
            (out if stdin is None else stdin).append("%")
            index += 2
            continue
        if char == "%":
            if stdin is None:
                stdin = []
            else:
                stdin.append("\n")
        else:
            (out if stdin is None else stdin).append(char)
        index += 1
    return "".join(out), None if stdin is None else "".join(stdin)


def run_as_cron(command: str, env: dict[str, str]) -> tuple[int, str]:
    script, stdin = cron_split(command)
    result = subprocess.run(
        ["/bin/sh", "-c", script],
        input=stdin or "",
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    return result.returncode, result.stdout + "|" + result.stderr


@pytest.fixture
def fake_runwatch(tmp_path: Path) -> Path:
    """Stands in for `runwatch`: executes what follows ``--``, as wrap does."""
    script = tmp_path / "runwatch"
    script.write_text(
        '#!/bin/sh\nwhile [ "$#" -gt 0 ] && [ "$1" != "--" ]; do shift; done\nshift\nexec "$@"\n'
    )
    script.chmod(0o755)
    return script


def test_the_rewritten_crontab_runs_every_command_as_cron_would(
    tmp_path: Path, fake_runwatch: Path
) -> None:
    text = "GREETING=hi\n" + "".join(f"* * * * * {command}\n" for command in REAL_WORLD)
    result = import_crontab(text, runwatch=str(fake_runwatch))
    rewritten = [line for line in result.crontab.splitlines() if line.startswith("* * * * * ")]
    assert len(rewritten) == len(REAL_WORLD)

    for original, line in zip(REAL_WORLD, rewritten, strict=True):
        outputs = []
        for command in (original, line.removeprefix("* * * * * ")):
            out = tmp_path / f"out-{len(outputs)}"
            out.mkdir(exist_ok=True)
            env = {"PATH": os.environ["PATH"], "GREETING": "hi", "OUT": str(out), "HOME": "/"}
            outputs.append(run_as_cron(command, env))
        assert outputs[0] == outputs[1], f"{original!r} became {line!r}"


def test_import_crontab_writes_both_files(tmp_path: Path) -> None:
    from runner.cli.commands.crontab import import_command

    source = tmp_path / "crontab.txt"
    source.write_text(USER_CRONTAB)
    args = Namespace(
        file=str(source), system=False, write=str(tmp_path / "out"), runwatch="runwatch"
    )

    assert import_command(Namespace(args=args)) == 0  # type: ignore[arg-type]

    assert (tmp_path / "out" / "jobs.yaml").read_text().startswith("# Jobs imported from")
    assert "runwatch wrap --job backup" in (tmp_path / "out" / "crontab").read_text()


def test_import_crontab_prints_both_files_and_reports_skipped_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from runner.cli.commands.crontab import import_command

    source = tmp_path / "crontab.txt"
    source.write_text(USER_CRONTAB)
    args = Namespace(file=str(source), system=False, write=None, runwatch="runwatch")

    import_command(Namespace(args=args))  # type: ignore[arg-type]

    out, err = capsys.readouterr()
    assert out.startswith("# ==> jobs.yaml <==\n")
    assert "\n# ==> crontab <==\n" in out
    assert err.count("kept unchanged") == 3
