"""Settings: runwatch.yaml, ``${VAR}`` / ``${file:PATH}`` interpolation, ``env_file:``
and the ``RUNWATCH_*`` variables.

Built once at the entry point from an explicit environment mapping and passed down;
nothing else reads ``os.environ``. A value built by interpolation is a Secret: it is
never shown, not even in error messages.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from runner import config_fields
from runner.config_fields import Location
from runner.definitions import fields
from runner.definitions.yamlsource import YamlMapping, read_yaml, to_plain
from runner.envfile import read_env_file
from runner.errors import DefinitionError
from runner.redaction import Redactor, environment_secrets, settings_secrets, url_password
from runner.secret import Secret, SecretReferenceError, interpolate, references
from runner.settings_file import CONFIG_NAME, ETC_DIR, expand_user, find_settings_file
from runner.sizes import parse_size

DEFAULT_WORKERS = 8
DEFAULT_LOG_CAP_BYTES = 10 * 1024 * 1024
SECTION_KEYS = ("telemetry", "alerting", "server", "executor", "dashboard")
"""Sections kept as mappings for the subsystems that read them."""
SETTINGS_KEYS = (
    "home",
    "db_url",
    "jobs",
    "workers",
    "log_cap",
    "pools",
    "env_file",
    *SECTION_KEYS,
)
LOGIN_KEY = "auth"
"""``dashboard.auth``: read only by the commands that pass ``with_login``."""
_JOB_FILE_KEYS = ("defaults",)
"""Job-file keys allowed besides ``jobs:`` and ``pools:`` when ``jobs:`` holds the jobs."""


@dataclass(frozen=True)
class Settings:
    """Everything runwatch.yaml and the environment configure, resolved and checked."""

    home: Path
    db_url: str = field(repr=False)
    config_path: Path | None = None
    job_paths: tuple[Path, ...] = ()
    workers: int = DEFAULT_WORKERS
    """Concurrent task attempts per process, over all runs."""
    log_cap_bytes: int = DEFAULT_LOG_CAP_BYTES
    pools: Mapping[str, int] = field(default_factory=dict)
    telemetry: Mapping[str, Any] = field(default_factory=dict)
    alerting: Mapping[str, Any] = field(default_factory=dict)
    server: Mapping[str, Any] = field(default_factory=dict)
    executor: Mapping[str, Any] = field(default_factory=dict)
    dashboard: Mapping[str, Any] = field(default_factory=dict)
    """``url``: where the dashboard is served, for links in notifications."""
    interpolated: frozenset[str] = frozenset()
    """Names of the environment variables runwatch.yaml referenced with ``${NAME}``."""
    secrets: tuple[Secret, ...] = ()
    """Every value that came from ``${NAME}`` or ``${file:PATH}`` (for redaction)."""

    @property
    def db_url_redacted(self) -> str:
        """The database URL with any password replaced by ``***``, fit to show."""
        parts = urlsplit(self.db_url)
        if parts.password is None:
            return self.db_url
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return parts._replace(netloc=netloc).geturl()


def redactor_for(settings: Settings | None, env: Mapping[str, str]) -> Redactor:
    """The one Redactor of a process: every secret of its settings and its environment."""
    found: list[Secret | str] = [*environment_secrets(env)]
    if settings is not None:
        found.extend(settings.secrets)
        found.extend(url_password(settings.db_url))
        sections = (settings.server, settings.alerting, settings.telemetry, settings.executor)
        found.extend(settings_secrets(sections))
    return Redactor(found)


def load_settings(
    config_path: Path | None,
    *,
    env: Mapping[str, str],
    cwd: Path,
    etc_dir: str = ETC_DIR,
    without: tuple[str, ...] = (),
    with_login: bool = False,
) -> Settings:
    """Read settings from the file ``find_settings_file`` picks (none: defaults only).

    Precedence: ``RUNWATCH_HOME`` / ``RUNWATCH_DB_URL`` over the file over defaults.
    Relative paths in the file are relative to its folder. Sections in ``without`` are
    left out unread (`wrap` still records a run when the alerting section is broken), and
    so is the dashboard's login (``dashboard.auth``) unless ``with_login``: its secrets'
    variables are set where the dashboard runs, not on every host that runs jobs.
    """
    path = _find(config_path, env, cwd, etc_dir)
    display = _display(path, config_path, cwd)
    base = path.parent if path is not None else cwd
    raw = _read(path, display) if path is not None else YamlMapping(1)
    top = Location(display)
    jobs_in_file = isinstance(raw.get("jobs"), Mapping)
    allowed = (*SETTINGS_KEYS, *_JOB_FILE_KEYS) if jobs_in_file else SETTINGS_KEYS
    if "defaults" in raw and not jobs_in_file:
        raise top.at("defaults", raw.line_of("defaults")).error(
            "'defaults:' belongs to a jobs file; here it applies only when 'jobs:' holds the jobs"
        )
    config_fields.check_keys(raw, allowed, top, raw.line_of)

    def at(key: str) -> Location:
        return Location(display, raw.line_of(key), key=key)

    # dotenv convention (python-dotenv, docker compose): the process environment wins
    variables = {**_env_files(raw.get("env_file"), base, env, at("env_file")), **env}
    resolver = _Resolver(variables, base, top)
    if not with_login and isinstance(raw.get("dashboard"), Mapping):
        raw["dashboard"] = {k: v for k, v in raw["dashboard"].items() if k != LOGIN_KEY}
    data = {
        key: value if key == "jobs" and jobs_in_file else resolver.resolve(value, key)
        for key, value in raw.items()
        if key in SETTINGS_KEYS and key != "env_file" and key not in without
    }

    home = _home(data.get("home"), env, cwd, base, at("home"))
    return Settings(
        config_path=path,
        home=home,
        db_url=_db_url(data.get("db_url"), env, home, at("db_url")),
        job_paths=_job_paths(data.get("jobs"), path, base, env, at("jobs")),
        workers=_workers(data.get("workers"), at("workers")),
        log_cap_bytes=_log_cap(data.get("log_cap"), at("log_cap")),
        pools=fields.pool_sizes(data.get("pools"), at("pools"), _lines(raw.get("pools"))),
        telemetry=_section(data.get("telemetry"), at("telemetry")),
        alerting=_section(data.get("alerting"), at("alerting")),
        server=_section(data.get("server"), at("server")),
        executor=_section(data.get("executor"), at("executor")),
        dashboard=_section(data.get("dashboard"), at("dashboard")),
        interpolated=frozenset(resolver.names),
        secrets=tuple(resolver.secrets),
    )


def _find(config_path: Path | None, env: Mapping[str, str], cwd: Path, etc_dir: str) -> Path | None:
    given = None if config_path is None else str(config_path)
    found = find_settings_file(given, env, str(cwd), etc_dir=etc_dir)
    return None if found is None else Path(found)


def _display(path: Path | None, config_path: Path | None, cwd: Path) -> str:
    """How messages name the file: as given, ``runwatch.yaml`` in the working directory,
    else its absolute path (found through RUNWATCH_CONFIG, XDG or /etc)."""
    if config_path is not None:
        return str(config_path)
    if path is None or path == cwd / CONFIG_NAME:
        return CONFIG_NAME
    return str(path)


def _read(path: Path, display: str) -> YamlMapping:
    data = read_yaml(path)
    if data is None:
        return YamlMapping(1)
    if not isinstance(data, YamlMapping):
        raise DefinitionError(
            f"{display}: expected a mapping of settings, got {type(data).__name__}"
        )
    return data


def _lines(value: object) -> Callable[[str], int | None]:
    return value.line_of if isinstance(value, YamlMapping) else lambda _key: None


def _env_files(
    value: object, base: Path, env: Mapping[str, str], where: Location
) -> dict[str, str]:
    """The variables of ``env_file:`` (a path or a list of paths; later files win)."""
    if value is None:
        return {}
    items = value if isinstance(value, list) else [value]
    variables: dict[str, str] = {}
    for item in items:
        if not isinstance(item, str) or not item.strip() or "${" in item:
            raise where.error(f"expected a path to a dotenv file (no ${{…}}), got {item!r}")
        path = _absolute(_expand_user(item, env), base)
        try:
            variables.update(read_env_file(path))
        except DefinitionError as exc:
            raise where.error(str(exc)) from None
    return variables


class _Resolver:
    """Resolves ``${NAME}`` / ``${file:PATH}`` in settings values, remembering the secrets."""

    def __init__(self, env: Mapping[str, str], base: Path, top: Location) -> None:
        self.env, self.base, self.top = env, base, top
        self.names: set[str] = set()
        self.secrets: list[Secret] = []

    def resolve(self, value: object, key: str) -> Any:
        """``value`` with references replaced in every string; replaced strings are Secrets."""
        if isinstance(value, Mapping):
            return {k: self.resolve(v, f"{key}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v, f"{key}[{i}]") for i, v in enumerate(value)]
        if not isinstance(value, str) or "${" not in value:
            return value
        pieces: list[str] = []
        try:
            result = interpolate(value, self.env, self.base, pieces)
        except SecretReferenceError as exc:
            raise self.top.at(key).error(str(exc)) from None
        self.names.update(references(value))
        self.secrets.extend(Secret(piece) for piece in pieces if piece)
        if isinstance(result, Secret):
            self.secrets.append(result)
        return result


def _revealed(value: object, where: Location, expected: str) -> str:
    """A string setting, revealed if it was interpolated; errors never show a secret."""
    plain = config_fields.plain(value)
    if not isinstance(plain, str) or not plain.strip():
        raise where.error(f"expected {expected}, got {config_fields.shown_safely(value)}")
    return plain


def _expand_user(text: str, env: Mapping[str, str]) -> Path:
    return Path(expand_user(text, env))


def _absolute(path: Path, base: Path) -> Path:
    return Path(os.path.normpath(base / path))


def _home(value: object, env: Mapping[str, str], cwd: Path, base: Path, where: Location) -> Path:
    if env.get("RUNWATCH_HOME"):
        return _absolute(_expand_user(env["RUNWATCH_HOME"], env), cwd)
    if value is not None:
        return _absolute(_expand_user(_revealed(value, where, "a folder path"), env), base)
    return _expand_user("~/.runwatch", env)


def _db_url(value: object, env: Mapping[str, str], home: Path, where: Location) -> str:
    if env.get("RUNWATCH_DB_URL"):
        return env["RUNWATCH_DB_URL"]
    if value is not None:
        url = _revealed(value, where, "a database URL such as postgresql://host/db")
        if "://" not in url:
            shown = "the value" if isinstance(value, Secret) else repr(url)
            raise where.error(f"expected a database URL such as postgresql://host/db, got {shown}")
        return url
    return f"sqlite:///{home}/runwatch.db"


def _job_paths(
    value: object, config: Path | None, base: Path, env: Mapping[str, str], where: Location
) -> tuple[Path, ...]:
    """``jobs:`` as paths; a mapping means the config file holds the jobs itself."""
    if value is None:
        default = base / "jobs"
        return (default,) if default.is_dir() else ()
    if isinstance(value, Mapping):
        assert config is not None
        return (config,)
    items = value if isinstance(value, list) else [value]
    expected = "a path, a list of paths, or a mapping of jobs"
    return tuple(_absolute(_expand_user(_revealed(v, where, expected), env), base) for v in items)


def _workers(value: object, where: Location) -> int:
    if value is None:
        return DEFAULT_WORKERS
    if isinstance(value, Secret):
        text = value.reveal().strip()
        if not text.isdigit():
            raise where.error("expected a whole number >= 1, got a value from the environment")
        value = int(text)
    return config_fields.whole_number(value, where, minimum=1)


def _log_cap(value: object, where: Location) -> int:
    if value is None:
        return DEFAULT_LOG_CAP_BYTES
    try:
        return parse_size(config_fields.plain(value))
    except ValueError as exc:
        if isinstance(value, Secret):
            message = "expected a size such as 10MiB, got a value from the environment"
            raise where.error(message) from None
        raise where.error(str(exc)) from None


def _section(value: object, where: Location) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise where.error(f"expected a mapping, got {type(value).__name__}")
    plain: dict[str, Any] = to_plain(value)
    return plain
