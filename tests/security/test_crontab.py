"""Attacks on `import-crontab`: text that cron reads as one line (or as a comment) must
not become a new job, another user's job or a different command in the rewrite.

Each case runs the original and the rewritten crontab line by line in the cron
emulator; nothing may run that cron would not have run (no `pwned` file, no extra
entry, no entry for another user), and what does run runs the same."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.crontab import Rewrite, import_crontab
from tests.runner.cron_emulator import fake_runwatch, read_crontab, run_crontab

# Characters Python (or a YAML reader) takes for line breaks and cron does not.
NOT_LINE_BREAKS = ["\r", "\f", "\v", "\x1c", "\x1d", "\x1e", "\x1f", "\x85", "\u2028", "\u2029"]


def _rewritten(text: str, tmp_path: Path, *, system: bool = False) -> tuple[str, Path]:
    runwatch, log = fake_runwatch(tmp_path)
    rewrite = Rewrite(runwatch=str(runwatch), config=tmp_path / "runwatch.yaml")
    return import_crontab(text, system=system, rewrite=rewrite).crontab, log


def _assert_nothing_new_runs(text: str, tmp_path: Path, *, system: bool = False) -> None:
    rewritten, log = _rewritten(text, tmp_path, system=system)
    home = tmp_path / "home"

    before = run_crontab(text, home=home, system=system)
    after = run_crontab(rewritten, home=home, system=system, wrap_log=log)

    assert [(o.entry.when, o.entry.user) for o in after] == [
        (o.entry.when, o.entry.user) for o in before
    ]
    for old, new in zip(before, after, strict=True):
        assert (new.ran, new.files) == (old.ran, old.files)
        assert not any("pwned" in name for name in new.files)


@pytest.mark.parametrize("char", NOT_LINE_BREAKS, ids=lambda c: f"U+{ord(c):04X}")
def test_a_comment_cannot_smuggle_a_job_into_the_rewrite(char: str, tmp_path: Path) -> None:
    text = f"# harmless note{char}* * * * * touch pwned\n* * * * * echo ok > ok.txt\n"

    _assert_nothing_new_runs(text, tmp_path)

    rewritten, _ = _rewritten(text, tmp_path)
    assert len(read_crontab(rewritten)) == 1


@pytest.mark.parametrize("char", NOT_LINE_BREAKS, ids=lambda c: f"U+{ord(c):04X}")
def test_a_command_cannot_be_split_into_a_second_job(char: str, tmp_path: Path) -> None:
    text = f"* * * * * echo one > one.txt{char}* * * * * touch pwned\n"

    _assert_nothing_new_runs(text, tmp_path)


@pytest.mark.parametrize("char", NOT_LINE_BREAKS, ids=lambda c: f"U+{ord(c):04X}")
def test_one_users_line_cannot_become_a_root_line(char: str, tmp_path: Path) -> None:
    text = (
        f"# alice's jobs{char}* * * * * root touch pwned-root\n"
        f"* * * * * alice echo mine > mine.txt{char}* * * * * root touch pwned-too\n"
    )

    _assert_nothing_new_runs(text, tmp_path, system=True)

    rewritten, _ = _rewritten(text, tmp_path, system=True)
    assert [entry.user for entry in read_crontab(rewritten, system=True)] == ["alice"]


@pytest.mark.parametrize(
    "assignment",
    [
        "CRON_TZ=Europe/Berlin # note\x1e* * * * * touch pwned",
        "TZ_NOTE=50%\x1e* * * * * touch pwned",
    ],
)
def test_an_assignment_cannot_smuggle_a_job(assignment: str, tmp_path: Path) -> None:
    text = f"{assignment}\n* * * * * echo ok > ok.txt\n"

    _assert_nothing_new_runs(text, tmp_path)


def test_percent_escapes_cannot_turn_input_into_commands(tmp_path: Path) -> None:
    text = (
        "* * * * * cat > got.txt%touch pwned\n"  # input, never a command
        "* * * * * echo a\\\\%touch pwned\n"  # \\ then a free %: the rest is input
        "* * * * * echo 'b\\%'; cat > in.txt%touch pwned\\%x\n"
        "CRON_TZ=Europe/Berlin%touch pwned\n"  # % is ordinary in an assignment
        '* * * * * echo "$CRON_TZ" > tz.txt\n'
    )

    _assert_nothing_new_runs(text, tmp_path)


def test_quotes_in_a_command_cannot_break_out_of_the_wrapped_command(tmp_path: Path) -> None:
    text = (
        "* * * * * echo 'a'\"'\"'b' > q1.txt\n"
        "* * * * * echo \"'; touch pwned; '\" > q2.txt\n"
        "* * * * * echo '$(touch pwned)' `echo x` > q3.txt\n"
        "* * * * * echo unbalanced ' > q4.txt\n"
    )

    _assert_nothing_new_runs(text, tmp_path)
