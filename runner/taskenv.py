"""The environment tasks start from: runwatch's own, minus runwatch's secrets.

A task does not need runwatch's database password, broker URL, exporter headers or the
webhook URLs runwatch.yaml interpolated, and a task that prints its environment (or a
tool that ships it to a crash reporter) must not leak them. So those variables are
withheld unless the task's ``env_inherit:`` names them (or says ``all``). Kept stdlib-only:
``runwatch wrap`` imports it on every cron invocation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (wrap imports this)
if TYPE_CHECKING:
    from typing import Literal, TypeAlias

    EnvInherit: TypeAlias = tuple[str, ...] | Literal["all"]
    """A task's ``env_inherit:``: withheld variables to keep anyway, or ``all`` of them."""

ALL: Literal["all"] = "all"

WITHHELD = (
    "RUNWATCH_DB_URL",
    "PGPASSWORD",
    "RUNWATCH_CELERY_BROKER_URL",
    "CELERY_BROKER_URL",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
    "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
    "OPENLINEAGE_API_KEY",
)
"""runwatch's own credentials, withheld from every task besides what runwatch.yaml used."""

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class TaskEnvironment:
    """runwatch's environment and the names withheld from the tasks it starts.

    A plain class, not a dataclass: ``wrap`` imports this module and not ``dataclasses``.
    """

    __slots__ = ("inherited", "withheld")

    def __init__(self, inherited: Mapping[str, str], withheld: frozenset[str]) -> None:
        self.inherited = inherited
        self.withheld = withheld

    @classmethod
    def of(cls, env: Mapping[str, str], interpolated: Iterable[str] = ()) -> TaskEnvironment:
        """Tasks inherit ``env`` minus WITHHELD and the ``interpolated`` variable names."""
        return cls(dict(env), frozenset((*WITHHELD, *interpolated)))

    def removed(self, inherit: EnvInherit) -> frozenset[str]:
        """The withheld names a task with this ``env_inherit`` does not get."""
        if inherit == ALL:
            return frozenset()
        return self.withheld.difference(inherit)

    def kept(self, inherit: EnvInherit) -> dict[str, str]:
        """The withheld variables this ``env_inherit`` keeps, with their values."""
        return {
            name: value
            for name, value in self.inherited.items()
            if name in self.withheld and name not in self.removed(inherit)
        }

    def for_task(self, inherit: EnvInherit, extra: Mapping[str, str]) -> dict[str, str]:
        """The whole environment of a task: inherited, withheld names removed, ``extra`` on top."""
        removed = self.removed(inherit)
        env = {name: value for name, value in self.inherited.items() if name not in removed}
        env.update(extra)
        return env


def parse_env_inherit(value: object) -> EnvInherit:
    """``all`` or a list of variable names; ValueError saying what is expected otherwise."""
    if value == ALL:
        return ALL
    expected = "expected 'all' or a list of environment variable names"
    if not isinstance(value, list | tuple):
        raise ValueError(f"{expected}, got {value!r}")
    for item in value:
        if not isinstance(item, str) or not _NAME.fullmatch(item):
            raise ValueError(f"{expected}; {item!r} is not a variable name")
    return tuple(value)
