"""`runwatch import-crontab [FILE|-] [--system] [--write DIR]`: a crontab, imported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from runner.cli.context import Context
from runner.crontab import CrontabImport, import_crontab
from runner.errors import UsageError

SYSTEM_CRONTAB = "/etc/crontab"
JOBS_FILE = "jobs.yaml"
CRONTAB_FILE = "crontab"


def _read(file: str | None, system: bool) -> tuple[str, str]:
    """The crontab's text and a name for it."""
    if file == "-":
        return sys.stdin.read(), "standard input"
    if file is None and not system:
        return _user_crontab(), "the user crontab (crontab -l)"
    path = Path(file or SYSTEM_CRONTAB)
    try:
        return path.read_text(encoding="utf-8", errors="replace"), str(path)
    except OSError as exc:
        raise UsageError(f"cannot read crontab {str(path)!r}: {exc.strerror or exc}") from None


def _user_crontab() -> str:
    try:
        listed = subprocess.run(["crontab", "-l"], capture_output=True, text=True, check=False)
    except OSError as exc:
        raise UsageError(
            f"cannot run `crontab -l` ({exc.strerror or exc}): give the crontab as FILE or -"
        ) from None
    if listed.returncode != 0:
        said = listed.stderr.strip() or f"exit code {listed.returncode}"
        raise UsageError(f"`crontab -l` failed: {said}")
    return listed.stdout


def import_command(ctx: Context) -> int:
    """Print (or write) the jobs YAML and the rewritten crontab."""
    args = ctx.args
    text, source = _read(args.file, args.system)
    result = import_crontab(text, system=args.system, source=source, runwatch=args.runwatch)
    if args.write:
        _write(Path(args.write), result)
    else:
        sys.stdout.write(f"# ==> {JOBS_FILE} <==\n{result.jobs_yaml}\n")
        sys.stdout.write(f"# ==> {CRONTAB_FILE} <==\n{result.crontab}")
    for line in result.skipped:
        print(
            f"runwatch: line {line.number} of {source} kept unchanged: {line.reason}",
            file=sys.stderr,
        )
    return 0


def _write(folder: Path, result: CrontabImport) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / JOBS_FILE).write_text(result.jobs_yaml, encoding="utf-8")
        (folder / CRONTAB_FILE).write_text(result.crontab, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--write {str(folder)!r}: {exc.strerror or exc}") from None
    print(f"{len(result.names)} jobs: {folder / JOBS_FILE}")
    print(f"rewritten crontab: {folder / CRONTAB_FILE} (install it with `crontab FILE`)")
