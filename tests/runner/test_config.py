"""Settings: precedence of environment, runwatch.yaml and defaults; interpolation; secrets."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from runner.config import DEFAULT_LOG_CAP_BYTES, Settings, load_settings
from runner.definitions import load_definitions
from runner.errors import DefinitionError
from runner.secret import Secret
from runner.sizes import parse_size

HOME_ENV = {"HOME": "/home/tester"}


def _config(tmp_path: Path, text: str, name: str = "runwatch.yaml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def _error(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> str:
    _config(tmp_path, text)
    with pytest.raises(DefinitionError) as caught:
        load_settings(None, env=env or HOME_ENV, cwd=tmp_path)
    return str(caught.value)


def test_without_a_config_file_everything_is_default(tmp_path: Path) -> None:
    settings = load_settings(None, env=HOME_ENV, cwd=tmp_path)

    assert settings == Settings(
        home=Path("/home/tester/.runwatch"),
        db_url="sqlite:////home/tester/.runwatch/runwatch.db",
    )
    assert settings.config_path is None
    assert (settings.workers, settings.log_cap_bytes) == (8, 10 * 1024 * 1024)
    assert settings.job_paths == ()
    assert (settings.pools, settings.alerting, settings.telemetry) == ({}, {}, {})


def test_runwatch_yaml_in_the_working_folder_is_found(tmp_path: Path) -> None:
    path = _config(tmp_path, "workers: 3\n")

    settings = load_settings(None, env=HOME_ENV, cwd=tmp_path)

    assert (settings.config_path, settings.workers) == (path, 3)


def test_file_values_beat_defaults_and_environment_beats_the_file(tmp_path: Path) -> None:
    _config(tmp_path, "home: state\ndb_url: postgresql://db/runs\n")

    from_file = load_settings(None, env=HOME_ENV, cwd=tmp_path)
    env = {**HOME_ENV, "RUNWATCH_HOME": "/srv/rw", "RUNWATCH_DB_URL": "postgresql://other/x"}
    from_env = load_settings(None, env=env, cwd=tmp_path)

    assert (from_file.home, from_file.db_url) == (tmp_path / "state", "postgresql://db/runs")
    assert (from_env.home, from_env.db_url) == (Path("/srv/rw"), "postgresql://other/x")


def test_the_default_database_lives_in_home(tmp_path: Path) -> None:
    settings = load_settings(None, env={**HOME_ENV, "RUNWATCH_HOME": "rel/home"}, cwd=tmp_path)

    assert settings.home == tmp_path / "rel" / "home"
    assert settings.db_url == f"sqlite:///{tmp_path}/rel/home/runwatch.db"
    assert settings.db_url.startswith("sqlite:////")


def test_home_expands_tilde_from_the_given_environment(tmp_path: Path) -> None:
    _config(tmp_path, "home: ~/runwatch-state\n")

    settings = load_settings(None, env={"HOME": "/users/me"}, cwd=tmp_path)

    assert settings.home == Path("/users/me/runwatch-state")


def test_an_explicit_config_path_is_relative_to_cwd_and_paths_in_it_to_its_folder(
    tmp_path: Path,
) -> None:
    (tmp_path / "conf" / "jobs").mkdir(parents=True)
    _config(tmp_path, "jobs: [jobs, /abs/jobs.yaml]\nhome: .state\n", "conf/rw.yaml")

    settings = load_settings(Path("conf/rw.yaml"), env=HOME_ENV, cwd=tmp_path)

    assert settings.config_path == tmp_path / "conf" / "rw.yaml"
    assert settings.job_paths == (tmp_path / "conf" / "jobs", Path("/abs/jobs.yaml"))
    assert settings.home == tmp_path / "conf" / ".state"


def test_jobs_may_be_a_single_path(tmp_path: Path) -> None:
    _config(tmp_path, "jobs: etl.yaml\n")

    assert load_settings(None, env=HOME_ENV, cwd=tmp_path).job_paths == (tmp_path / "etl.yaml",)


def test_a_jobs_folder_next_to_the_config_is_the_default(tmp_path: Path) -> None:
    (tmp_path / "jobs").mkdir()
    _config(tmp_path, "workers: 2\n")

    assert load_settings(None, env=HOME_ENV, cwd=tmp_path).job_paths == (tmp_path / "jobs",)


def test_a_missing_explicit_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match=r"config file 'nope\.yaml' does not exist"):
        load_settings(Path("nope.yaml"), env=HOME_ENV, cwd=tmp_path)


def test_workers_log_cap_pools_and_sections_are_read(tmp_path: Path) -> None:
    _config(
        tmp_path,
        """
        workers: 16
        log_cap: 512KiB
        pools: {warehouse: 2}
        telemetry: {service_name: etl}
        alerting: {receivers: {log: {}}}
        server: {port: 9000}
        executor: {kind: local}
        """,
    )

    settings = load_settings(None, env=HOME_ENV, cwd=tmp_path)

    assert (settings.workers, settings.log_cap_bytes) == (16, 512 * 1024)
    assert settings.pools == {"warehouse": 2}
    assert settings.telemetry == {"service_name": "etl"}
    assert settings.alerting == {"receivers": {"log": {}}}
    assert type(settings.alerting["receivers"]) is dict
    assert (settings.server, settings.executor) == ({"port": 9000}, {"kind": "local"})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("worker: 4\n", "runwatch.yaml:1: unknown key 'worker' (did you mean 'workers'?)"),
        ("workers: 0\n", "runwatch.yaml:1: key 'workers': expected a whole number >= 1, got 0"),
        (
            "workers: 2\nlog_cap: lots\n",
            "runwatch.yaml:2: key 'log_cap': expected a size such as 512KiB",
        ),
        ("alerting: [a]\n", "runwatch.yaml:1: key 'alerting': expected a mapping, got list"),
        ("pools: {db: -1}\n", "runwatch.yaml:1: key 'pools.db': expected a whole number >= 1"),
        ("db_url: /tmp/x.db\n", "runwatch.yaml:1: key 'db_url': expected a database URL"),
        (
            "jobs: 5\n",
            "runwatch.yaml:1: key 'jobs': expected a path, a list of paths, or a mapping",
        ),
        ("- a\n", "runwatch.yaml: expected a mapping of settings, got list"),
        (
            "jobs: [j]\ndefaults: {retries: 1}\n",
            "runwatch.yaml:2: key 'defaults': 'defaults:' belongs to a jobs file",
        ),
    ],
)
def test_invalid_settings_are_rejected_naming_the_key(
    tmp_path: Path, text: str, message: str
) -> None:
    assert _error(tmp_path, text).startswith(message)


def test_environment_variables_are_interpolated_as_secrets(tmp_path: Path) -> None:
    _config(
        tmp_path,
        """
        alerting:
          receivers:
            oncall:
              pagerduty: {routing_key: "${PD_ROUTING_KEY}"}
              slack: {url: "https://hooks/${HOOK}/x", note: "costs $${AMOUNT}", plain: text}
        """,
    )
    env = {**HOME_ENV, "PD_ROUTING_KEY": "R0UT1NG", "HOOK": "T/B/C"}

    receiver = load_settings(None, env=env, cwd=tmp_path).alerting["receivers"]["oncall"]

    key = receiver["pagerduty"]["routing_key"]
    assert isinstance(key, Secret)
    assert key.reveal() == "R0UT1NG"
    assert receiver["slack"]["url"].reveal() == "https://hooks/T/B/C/x"
    assert receiver["slack"]["note"] == "costs ${AMOUNT}"
    assert receiver["slack"]["plain"] == "text"
    assert "R0UT1NG" not in repr(receiver)


def test_a_missing_variable_names_the_key_and_the_variable(tmp_path: Path) -> None:
    text = """
        alerting:
          receivers:
            oncall:
              pagerduty: {routing_key: "${PD_ROUTING_KEY}"}
        """

    assert _error(tmp_path, text) == (
        "runwatch.yaml: key 'alerting.receivers.oncall.pagerduty.routing_key': "
        "environment variable PD_ROUTING_KEY is not set"
    )


def test_list_items_are_interpolated_and_named_by_index(tmp_path: Path) -> None:
    message = _error(tmp_path, "server:\n  hosts: [a, '${HOST_B}']\n")

    assert message == "runwatch.yaml: key 'server.hosts[1]': environment variable HOST_B is not set"


def test_a_malformed_reference_is_rejected(tmp_path: Path) -> None:
    message = _error(tmp_path, "server: {token: '${not valid}'}\n")

    assert message.startswith("runwatch.yaml: key 'server.token': expected ${NAME}")


def test_interpolated_values_never_appear_in_error_messages(tmp_path: Path) -> None:
    env = {**HOME_ENV, "W": "many-s3cret", "CAP": "huge-s3cret", "DB": "s3cret-no-url"}

    messages = [
        _error(tmp_path, "workers: ${W}\n", env),
        _error(tmp_path, "log_cap: ${CAP}\n", env),
        _error(tmp_path, "db_url: ${DB}\n", env),
        _error(tmp_path, "pools: {db: '${W}'}\n", env),
    ]

    assert all("s3cret" not in message for message in messages), messages
    assert all("key '" in message for message in messages)


def test_interpolated_typed_settings_are_revealed_and_parsed(tmp_path: Path) -> None:
    _config(tmp_path, "workers: ${W}\nlog_cap: ${CAP}\ndb_url: postgresql://u:${PW}@db/x\n")
    env = {**HOME_ENV, "W": "3", "CAP": "1MiB", "PW": "hunter2"}

    settings = load_settings(None, env=env, cwd=tmp_path)

    assert (settings.workers, settings.log_cap_bytes) == (3, 1024 * 1024)
    assert settings.db_url == "postgresql://u:hunter2@db/x"
    assert settings.db_url_redacted == "postgresql://u:***@db/x"
    assert "hunter2" not in repr(settings)


def test_a_secret_shows_stars_everywhere_but_reveal() -> None:
    secret = Secret("hunter2")

    assert (str(secret), repr(secret), f"{secret}") == ("***", "'***'", "***")
    assert repr({"key": secret}) == "{'key': '***'}"
    assert secret.reveal() == "hunter2"
    assert secret == Secret("hunter2") != Secret("other")


def test_jobs_as_a_mapping_make_the_config_file_a_jobs_file(tmp_path: Path) -> None:
    path = _config(
        tmp_path,
        """
        workers: 2
        pools: {db: 1}
        alerting: {receivers: {log: {}}}
        defaults: {retries: 3}
        jobs:
          etl:
            command: "echo ${NOT_INTERPOLATED}"
            pool: db
        """,
    )

    settings = load_settings(None, env=HOME_ENV, cwd=tmp_path)
    definitions = load_definitions(settings.job_paths, settings_file=settings.config_path)

    assert settings.job_paths == (path,)
    assert (settings.workers, settings.pools) == (2, {"db": 1})
    task = definitions.jobs["etl"].tasks["etl"]
    assert (task.command, task.retries) == ("echo ${NOT_INTERPOLATED}", 3)
    assert definitions.jobs["etl"].source == str(path)


def test_log_cap_defaults_to_ten_mebibytes() -> None:
    assert DEFAULT_LOG_CAP_BYTES == parse_size("10MiB") == 10_485_760


@pytest.mark.parametrize(
    ("value", "size"),
    [
        (0, 0),
        (1234, 1234),
        ("512KiB", 524_288),
        ("10 MiB", 10_485_760),
        ("2GB", 2 * 10**9),
        ("1.5kb", 1500),
    ],
)
def test_sizes_accept_decimal_and_binary_units(value: object, size: int) -> None:
    assert parse_size(value) == size


@pytest.mark.parametrize("value", [-1, "ten", "10XB", True, 1.5, ""])
def test_sizes_reject_everything_else(value: object) -> None:
    with pytest.raises(ValueError, match="size"):
        parse_size(value)
