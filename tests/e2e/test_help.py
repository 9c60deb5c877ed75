"""`runwatch … --help`: argparse's help, at the width of the terminal (or COLUMNS)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.cli import clean_env


def help_text(home: Path, columns: str, *words: str) -> str:
    env = clean_env(home)
    env["COLUMNS"] = columns
    done = subprocess.run(
        [sys.executable, "-m", "runner", *words, "--help"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("words", [(), ("run",), ("silence",), ("alerts", "routes")])
def test_help_is_wrapped_at_the_width_columns_gives(tmp_path: Path, words: tuple[str, ...]) -> None:
    narrow = help_text(tmp_path, "50", *words)
    wide = help_text(tmp_path, "200", *words)
    assert len(narrow.splitlines()) > len(wide.splitlines())
    assert narrow.split() == wide.split()  # the same words, wrapped differently


def test_the_help_of_run_fits_the_columns(tmp_path: Path) -> None:
    lines = help_text(tmp_path, "50", "run").splitlines()
    assert max(map(len, lines)) <= 48  # argparse leaves two columns free


def test_help_without_columns_or_a_terminal_is_80_wide(tmp_path: Path) -> None:
    text = help_text(tmp_path, "", "run")  # COLUMNS empty; stdout is a pipe
    assert 60 < max(map(len, text.splitlines())) <= 78
