"""`runwatch import-crontab` through the real CLI: the jobs it writes load and validate,
each rewritten line runs its original command through the real `runwatch wrap` with the
settings file in use, and bad input is exit 2 naming the file and line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.cli import clean_env
from tests.runner.cron_emulator import read_crontab, run_crontab

CRONTAB = """\
MAILTO=ops@example.com
SHELL=/bin/sh
# nightly backup
0 3 * * * /usr/local/bin/backup.sh --all > /var/log/backup.log 2>&1
*/5 * * * * echo "ping" | logger -t heartbeat
@reboot /usr/bin/start-agent
0 0 * * * date +\\%Y-\\%m-\\%d >> /tmp/dates
not a cron line at all
"""
RUNWATCH = str(Path(sys.executable).parent / "runwatch")


def _runwatch(
    cwd: Path, *args: str, stdin: bytes | None = None, home: Path | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "runner", *args],
        cwd=cwd,
        env=clean_env(home or cwd / "home"),
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )


def test_import_crontab_writes_jobs_that_validate_and_a_wrapped_crontab(tmp_path: Path) -> None:
    (tmp_path / "crontab").write_text(CRONTAB)
    out = tmp_path / "imported"
    result = _runwatch(
        tmp_path, "import-crontab", "crontab", "--keep-unconverted", "--write", str(out)
    )
    assert result.returncode == 0, result.stderr
    assert "crontab:8: kept unchanged: cron ignores this line" in result.stderr
    crontab = (out / "crontab").read_text()
    assert "MAILTO=ops@example.com" in crontab
    wrapped = [line for line in crontab.splitlines() if "runwatch wrap --job" in line]
    assert len(wrapped) == 4
    assert any("--schedule '0 3 * * *'" in line and "backup.sh --all" in line for line in wrapped)
    assert any("@reboot" in line and "--schedule" not in line for line in wrapped)
    assert "\nnot a cron line at all\n" in crontab
    checked = _runwatch(tmp_path, "check", "--jobs", str(out / "jobs.yaml"))
    assert checked.returncode == 0, checked.stderr
    again = _runwatch(
        tmp_path, "import-crontab", "crontab", "--keep-unconverted", "--write", str(tmp_path / "b")
    )
    assert again.returncode == 0
    assert (tmp_path / "b" / "crontab").read_text() == crontab, "names must be stable"


def test_import_crontab_reads_standard_input_and_prints_both_files(tmp_path: Path) -> None:
    result = _runwatch(tmp_path, "import-crontab", "-", stdin=b"15 4 * * * /bin/true\n")
    assert result.returncode == 0, result.stderr
    assert "jobs:" in result.stdout
    assert "runwatch wrap --job true" in result.stdout


def test_rewritten_lines_call_this_runwatch_by_its_absolute_path(tmp_path: Path) -> None:
    result = subprocess.run(
        [RUNWATCH, "import-crontab", "-"],
        cwd=tmp_path,
        env=clean_env(tmp_path / "home"),
        input="@daily /bin/true\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"@daily exec {RUNWATCH} wrap --job true " in result.stdout


def _normalised(status: int) -> int:
    """Cron ignores exit statuses; wrap returns 128+N for a command killed by signal N."""
    return 128 - status if status < 0 else status


def test_the_rewritten_crontab_runs_as_cron_would_through_wrap_with_the_settings_in_use(
    tmp_path: Path,
) -> None:
    (tmp_path / "runwatch.yaml").write_text(f"home: {tmp_path / 'store'}\n")
    original = (
        "GREETING=50% off\n"
        '*/5 * * * * echo "$GREETING" > greeting.txt\n'
        "0 3 * * * cat > mail.txt%Dear ops,%backup done \\% ok%\n"
        "@daily printf 'a\\%sb\\n' x; echo a\\\\%ignored\n"
        "@reboot echo 'it''s' \"$HOME\" $PATH\x1e* * * * * touch pwned\n"
    )
    (tmp_path / "crontab").write_text(original)
    result = _runwatch(
        tmp_path, "import-crontab", "crontab", "--runwatch", RUNWATCH, "--write", "out"
    )
    assert result.returncode == 0, result.stderr
    rewritten = (tmp_path / "out" / "crontab").read_text()
    assert rewritten.count(f" --config {tmp_path / 'runwatch.yaml'} ") == 4

    home = tmp_path / "cronhome"
    before = run_crontab(original, home=home)
    after = run_crontab(
        rewritten, home=home
    )  # cron's environment: no RUNWATCH_*, PATH=/usr/bin:/bin

    assert len(after) == len(before) == 4
    for old, new in zip(before, after, strict=True):
        assert new.entry.when == old.entry.when
        assert (_normalised(new.ran.status), new.ran.output, new.files) == (
            _normalised(old.ran.status),
            old.ran.output,
            old.files,
        )
        assert new.entry.command.startswith(f"exec {RUNWATCH} wrap --job ")
    runs = _runwatch(tmp_path, "runs", "--format", "json", home=tmp_path / "store")
    assert runs.returncode == 0, runs.stderr
    recorded = sorted(run["job"] for run in json.loads(runs.stdout))
    assert recorded == sorted(read_names(rewritten))


def read_names(rewritten: str) -> list[str]:
    """The --job of each wrapped entry."""
    return [entry.command.split(" --job ")[1].split()[0] for entry in read_crontab(rewritten)]


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"\x7fELF\x02\x01\x01\x00\x00\x00", "crontab:1: a NUL byte"),
        (b"* * * * * echo ok\n\xff\xfe garbage\n", "crontab:2: not UTF-8 text (byte 0xff)"),
        (b"MAILTO=ops@example.com\nPATH=/usr/bin:/bin\n# nothing else\n", "nothing to import"),
        (b"", "nothing to import"),
        (b"* * * * * echo 'unbalanced\n", "crontab:1: not converted: "),
        (b"61 * * * * /bin/x\n", "crontab:1: not converted: cron ignores this line: minute 61"),
        (b"* * 32 * * /bin/x\n", "day-of-month 32 is out of range 1-31"),
        (b"0 0 * * * /bin/x\n@daily\n", "crontab:2: not converted: cron ignores this line: no"),
    ],
)
def test_bad_crontabs_exit_2_naming_the_line_and_the_problem(
    tmp_path: Path, content: bytes, said: str
) -> None:
    (tmp_path / "crontab").write_bytes(content)

    result = _runwatch(tmp_path, "import-crontab", "crontab", "--write", "out")

    assert result.returncode == 2, result.stdout
    assert said in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_system_lines_without_a_user_exit_2_naming_the_line(tmp_path: Path) -> None:
    (tmp_path / "crontab").write_text(
        "17 * * * * root run-parts /etc/cron.hourly\n0 5 * * * /usr/bin/x\n"
    )

    result = _runwatch(tmp_path, "import-crontab", "crontab", "--system")

    assert result.returncode == 2
    assert "crontab:2: not converted: cron ignores this line: expected a user name" in result.stderr


def test_unconverted_lines_are_kept_with_keep_unconverted_and_said_on_stderr(
    tmp_path: Path,
) -> None:
    (tmp_path / "crontab").write_text("@daily /bin/true\n61 * * * * /bin/x\n")

    result = _runwatch(tmp_path, "import-crontab", "crontab", "--keep-unconverted")

    assert result.returncode == 0, result.stderr
    assert "crontab:2: kept unchanged: cron ignores this line: minute 61" in result.stderr
    assert "\n61 * * * * /bin/x\n" in result.stdout


def test_import_crontab_of_a_missing_file_exits_2_naming_it(tmp_path: Path) -> None:
    result = _runwatch(tmp_path, "import-crontab", "nope.cron")
    assert result.returncode == 2
    assert "nope.cron" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_settings_file_given_with_config_is_passed_by_its_absolute_path(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "rw.yaml").write_text(f"home: {tmp_path / 'store'}\n")

    result = _runwatch(
        tmp_path, "import-crontab", "-", "--config", "etc/rw.yaml", stdin=b"@daily /bin/true\n"
    )

    assert result.returncode == 0, result.stderr
    assert f" wrap --job true --config {tmp_path / 'etc' / 'rw.yaml'} --schedule @daily " in (
        result.stdout
    )
