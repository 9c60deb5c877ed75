"""Log tails from the recorded files, and what the CLI hands the app."""

from __future__ import annotations

from pathlib import Path

from dashboards.logs import read_full, tail
from dashboards.settings import (
    DB_URL_VARIABLE,
    TRACE_URL_VARIABLE,
    DashboardSettings,
)


def test_the_tail_is_the_last_lines_of_the_log(tmp_path: Path) -> None:
    log = tmp_path / "t.out"
    log.write_text("".join(f"line {i}\n" for i in range(1000)))

    found = tail(str(log), str(tmp_path), max_lines=3)

    assert (found.text, found.truncated, found.missing) == (
        "line 997\nline 998\nline 999",
        True,
        None,
    )
    assert found.size == log.stat().st_size


def test_a_tail_cut_by_bytes_drops_the_partial_first_line(tmp_path: Path) -> None:
    log = tmp_path / "t.out"
    log.write_bytes(b"a" * 100 + b"\nend\n\xff")

    found = tail(str(log), str(tmp_path), max_bytes=8)

    assert found.text == "end\n\ufffd"
    assert found.truncated


def test_missing_logs_say_why(tmp_path: Path) -> None:
    assert tail(None, str(tmp_path)).missing == "no output captured"
    gone = tail(str(tmp_path / "gone.out"), str(tmp_path))
    assert gone.missing == "log file not found on this host"


def test_the_full_log_is_read_up_to_a_limit(tmp_path: Path) -> None:
    log = tmp_path / "t.out"
    log.write_bytes(b"x" * 100)

    assert read_full(str(log), str(tmp_path), limit=10) == b"x" * 10
    assert len(read_full(str(log), str(tmp_path), limit=None)) == 100


def test_settings_come_from_the_variables_the_cli_sets(tmp_path: Path) -> None:
    settings = DashboardSettings.from_env(
        {
            DB_URL_VARIABLE: "sqlite:///x.db",
            TRACE_URL_VARIABLE: "https://tempo/trace/{trace_id}",
            "RUNWATCH_DB_URL": "sqlite:///other.db",
        }
    )

    assert settings.db_url == "sqlite:///x.db"
    assert settings.trace_url == "https://tempo/trace/{trace_id}"
    assert "x.db" not in repr(settings)
    assert (
        DashboardSettings.from_env({"RUNWATCH_DB_URL": "sqlite:///y.db"}).db_url == "sqlite:///y.db"
    )
    assert DashboardSettings.from_env({}).db_url is None
