"""wrap's lean settings resolve the home and the store exactly as runner.config does."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.config import load_settings
from runner.wrap.settings import load_wrap_settings


@pytest.mark.parametrize(
    "env",
    [
        {"HOME": "/home/ana"},
        {"HOME": "/home/ana", "RUNWATCH_HOME": "~/rw"},
        {"HOME": "/home/ana", "RUNWATCH_HOME": "relative/home"},
        {"HOME": "/home/ana", "RUNWATCH_HOME": "/srv/rw/../runwatch"},
        {"HOME": "/home/ana", "RUNWATCH_DB_URL": "postgresql://rw@db/runwatch"},
    ],
)
def test_without_a_config_file_wrap_resolves_what_runner_config_resolves(
    env: dict[str, str], tmp_path: Path
) -> None:
    full = load_settings(None, env=env, cwd=tmp_path)

    lean = load_wrap_settings(env, str(tmp_path))

    assert (lean.home, lean.db_url, lean.full) == (str(full.home), full.db_url, None)


def test_a_config_file_is_read_by_runner_config(tmp_path: Path) -> None:
    (tmp_path / "runwatch.yaml").write_text("home: state\nlog_cap: 1KiB\n")

    settings = load_wrap_settings({"HOME": "/home/ana"}, str(tmp_path))

    assert settings.home == str(tmp_path / "state")
    assert settings.log_cap_bytes == 1024
    assert settings.full is not None
    assert not settings.alert_rules


def test_db_overrides_the_configured_store(tmp_path: Path) -> None:
    env = {"HOME": "/home/ana", "RUNWATCH_DB_URL": "sqlite:///a.db"}

    assert load_wrap_settings(env, str(tmp_path), db="sqlite:///b.db").db_url == "sqlite:///b.db"
