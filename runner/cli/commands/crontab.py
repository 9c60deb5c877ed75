"""`runwatch import-crontab [FILE|-] [--system] [--write DIR] [--keep-unconverted]`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from runner.cli.context import Context
from runner.crontab import CrontabImport, Rewrite, decode_crontab, import_crontab
from runner.errors import UsageError

SYSTEM_CRONTAB = "/etc/crontab"
JOBS_FILE = "jobs.yaml"
CRONTAB_FILE = "crontab"


def _read(file: str | None, system: bool) -> tuple[bytes, str]:
    """The crontab's bytes and a name for it."""
    if file == "-":
        return sys.stdin.buffer.read(), "standard input"
    if file is None and not system:
        return _user_crontab(), "crontab -l"
    path = Path(file or SYSTEM_CRONTAB)
    try:
        return path.read_bytes(), str(path)
    except OSError as exc:
        raise UsageError(f"cannot read crontab {str(path)!r}: {exc.strerror or exc}") from None


def _user_crontab() -> bytes:
    try:
        listed = subprocess.run(["crontab", "-l"], capture_output=True, check=False)
    except OSError as exc:
        raise UsageError(
            f"cannot run `crontab -l` ({exc.strerror or exc}): give the crontab as FILE or -"
        ) from None
    if listed.returncode != 0:
        said = listed.stderr.decode(errors="replace").strip() or f"exit {listed.returncode}"
        raise UsageError(f"`crontab -l` failed: {said}")
    return listed.stdout


def _runwatch(ctx: Context) -> str:
    """How rewritten lines call runwatch: --runwatch, else this runwatch's absolute path
    (cron's PATH is /usr/bin:/bin)."""
    if ctx.args.runwatch:
        return str(ctx.args.runwatch)
    if Path(sys.argv[0]).name == "runwatch":
        return os.path.abspath(sys.argv[0])
    found = shutil.which("runwatch", path=ctx.env.get("PATH"))
    return os.path.abspath(found) if found else "runwatch"


def _settings_file(ctx: Context) -> Path | None:
    """The settings file in use (as the settings report it), made absolute for cron."""
    found = ctx.settings.config_path
    if found is None:
        return None
    return Path(os.path.abspath(ctx.cwd / found))


def _problems(result: CrontabImport, source: str, keep: bool) -> None:
    """Report unconverted lines; UsageError unless they are to be kept."""
    said = "kept unchanged" if keep else "not converted"
    for line in result.skipped:
        print(f"runwatch: {source}:{line.number}: {said}: {line.reason}", file=sys.stderr)
    if result.skipped and not keep:
        count = len(result.skipped)
        raise UsageError(
            f"{count} line{'s' if count > 1 else ''} of {source} could not be converted: "
            "fix them, or pass --keep-unconverted to keep them unchanged"
        )
    if not result.names:
        raise UsageError(
            f"{source}: nothing to import: no job line"
            + (" could be converted" if result.skipped else " (only comments and assignments)")
        )


def import_command(ctx: Context) -> int:
    """Print (or write) the jobs YAML and the rewritten crontab."""
    args = ctx.args
    data, source = _read(args.file, args.system)
    text = decode_crontab(data, source)
    rewrite = Rewrite(runwatch=_runwatch(ctx), config=_settings_file(ctx))
    result = import_crontab(text, system=args.system, source=source, rewrite=rewrite)
    _problems(result, source, args.keep_unconverted)
    if args.write:
        _write(Path(args.write), result)
    else:
        out = f"# ==> {JOBS_FILE} <==\n{result.jobs_yaml}\n# ==> {CRONTAB_FILE} <==\n"
        sys.stdout.flush()
        sys.stdout.buffer.write((out + result.crontab).encode())
    return 0


def _write(folder: Path, result: CrontabImport) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / JOBS_FILE).write_bytes(result.jobs_yaml.encode())
        (folder / CRONTAB_FILE).write_bytes(result.crontab.encode())
    except OSError as exc:
        raise UsageError(f"--write {str(folder)!r}: {exc.strerror or exc}") from None
    print(f"{len(result.names)} jobs: {folder / JOBS_FILE}")
    print(f"rewritten crontab: {folder / CRONTAB_FILE} (install it with `crontab FILE`)")
