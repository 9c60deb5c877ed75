"""Secrets on the command line and in errors: ``--db`` warns, errors never show a value
that came from ``${VAR}`` or ``${file:}``, ``show`` hides a token in the trace link."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.cli import clean_env, run_cli

SECRET = "fileSecretValue-4711"


def test_a_password_in_db_warns_that_ps_shows_it_and_names_runwatch_db_url(
    tmp_path: Path,
) -> None:
    env = clean_env(tmp_path / "home")
    url = f"sqlite:///{tmp_path / 'x.db'}"

    plain = run_cli(tmp_path, env, "runs", "--db", url)
    with_password = run_cli(
        tmp_path, env, "runs", "--db", "postgresql://rw:hunter2-pw@127.0.0.1:1/db"
    )

    assert "warning" not in plain.stderr
    assert "--db puts the database password where `ps` shows it" in with_password.stderr
    assert "RUNWATCH_DB_URL" in with_password.stderr
    assert "hunter2-pw" not in with_password.stderr + with_password.stdout


def test_config_errors_never_show_a_value_from_a_secret_file_or_variable(
    tmp_path: Path,
) -> None:
    secret_file = tmp_path / "workers"
    secret_file.write_text(SECRET + "\n")
    secret_file.chmod(0o600)
    (tmp_path / "runwatch.yaml").write_text(
        "workers: ${file:workers}\nlog_cap: ${CAP}\njobs: {j: {command: 'true'}}\n"
    )
    env = {**clean_env(tmp_path / "home"), "CAP": "capSecret-0815"}

    from_file = run_cli(tmp_path, env, "check")
    (tmp_path / "runwatch.yaml").write_text("log_cap: ${CAP}\njobs: {j: {command: 'true'}}\n")
    from_env = run_cli(tmp_path, env, "check")

    assert from_file.returncode == from_env.returncode == 2
    assert "key 'workers'" in from_file.stderr
    assert "got a value from the environment" in from_file.stderr
    assert "key 'log_cap'" in from_env.stderr
    for result in (from_file, from_env):
        assert SECRET not in result.stderr + result.stdout
        assert "capSecret-0815" not in result.stderr + result.stdout


def test_check_refuses_a_secret_file_others_may_read_naming_the_key_and_the_file(
    tmp_path: Path,
) -> None:
    secret_file = tmp_path / "slack-url"
    secret_file.write_text(f"https://hooks.slack.test/services/T/B/{SECRET}\n")
    secret_file.chmod(0o644)
    (tmp_path / "runwatch.yaml").write_text(
        "alerting:\n  receivers:\n    team: {slack: {webhook_url: '${file:slack-url}'}}\n"
        "jobs: {j: {command: 'true'}}\n"
    )

    result = run_cli(tmp_path, clean_env(tmp_path / "home"), "check")

    assert result.returncode == 2
    assert "key 'alerting.receivers.team.slack.webhook_url'" in result.stderr
    assert f"secret file {secret_file} is readable by group or others" in result.stderr
    assert SECRET not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
