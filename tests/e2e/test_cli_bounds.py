"""Numbers on the command line are range-checked before they reach SQL: exit 2, named."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.e2e.cli import clean_env, run_cli


def _runwatch(tmp_path: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "runwatch.yaml").write_text('jobs:\n  etl:\n    command: "true"\n')
    return run_cli(tmp_path, clean_env(home), *args)


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("show", "99999999999999999999999"), "argument run_id"),
        (("logs", "-3"), "argument run_id"),
        (("runs", "--limit", "0"), "argument --limit"),
        (("logs", "1", "--attempt", "99999999999"), "argument --attempt"),
        (
            ("backfill", "etl", "--from", "2026-01-01", "--to", "2026-01-02", "--max-runs", "0"),
            "argument --max-runs",
        ),
    ],
)
def test_an_out_of_range_number_is_a_usage_error_naming_the_argument(
    tmp_path: Path, home: Path, args: tuple[str, ...], named: str
) -> None:
    result = _runwatch(tmp_path, home, *args)

    assert result.returncode == 2, result.stderr
    assert f"runwatch: error: {named}: expected a whole number" in result.stderr
    assert "Traceback" not in result.stderr
