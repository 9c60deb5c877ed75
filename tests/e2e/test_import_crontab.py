"""`runwatch import-crontab` through the real CLI: the jobs it writes load and validate,
and each rewritten line runs its original command through `runwatch wrap`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.e2e.cli import clean_env

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


def _runwatch(cwd: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runner", *args],
        cwd=cwd,
        env=clean_env(cwd / "home"),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_import_crontab_writes_jobs_that_validate_and_a_wrapped_crontab(tmp_path: Path) -> None:
    (tmp_path / "crontab").write_text(CRONTAB)
    out = tmp_path / "imported"
    result = _runwatch(tmp_path, "import-crontab", "crontab", "--write", str(out))
    assert result.returncode == 0, result.stderr
    crontab = (out / "crontab").read_text()
    assert "MAILTO=ops@example.com" in crontab
    wrapped = [line for line in crontab.splitlines() if "runwatch wrap --job" in line]
    assert len(wrapped) == 4
    assert any("--schedule '0 3 * * *'" in line and "backup.sh --all" in line for line in wrapped)
    assert any("@reboot" in line and "--schedule" not in line for line in wrapped)
    assert "not a cron line at all" in crontab
    checked = _runwatch(tmp_path, "check", "--jobs", str(out / "jobs.yaml"))
    assert checked.returncode == 0, checked.stderr
    again = _runwatch(tmp_path, "import-crontab", "crontab", "--write", str(tmp_path / "again"))
    assert again.returncode == 0
    assert (tmp_path / "again" / "crontab").read_text() == crontab, "names must be stable"


def test_import_crontab_reads_standard_input_and_prints_both_files(tmp_path: Path) -> None:
    result = _runwatch(tmp_path, "import-crontab", "-", stdin="15 4 * * * /bin/true\n")
    assert result.returncode == 0, result.stderr
    assert "jobs:" in result.stdout
    assert "runwatch wrap --job" in result.stdout


def test_import_crontab_of_a_missing_file_exits_2_naming_it(tmp_path: Path) -> None:
    result = _runwatch(tmp_path, "import-crontab", "nope.cron")
    assert result.returncode == 2
    assert "nope.cron" in result.stderr
    assert "Traceback" not in result.stderr
