"""The real Alertmanager's ``amtool`` as an oracle: routing label sets and checking
configs offline (Debian package ``prometheus-alertmanager``), many calls at once."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from alerting.matchers import quote
from tests.e2e.cli import find_binary

WORKERS = 8
"""amtool mostly waits on its own start-up, so a few more calls than cores overlap well."""
CALL_TIMEOUT_SECONDS = 60


def label_args(labels: Mapping[str, str]) -> list[str]:
    """``name="value"`` arguments that amtool (and runwatch) read back as ``labels``."""
    return [f"{name}={quote(value)}" for name, value in sorted(labels.items())]


@dataclass(frozen=True)
class Amtool:
    """amtool on one Alertmanager config file."""

    binary: str
    config: Path

    @classmethod
    def write(cls, path: Path, config: Mapping[str, Any]) -> Amtool:
        """Write ``config`` (an Alertmanager config mapping) and use it."""
        path.write_text(yaml.safe_dump(dict(config), allow_unicode=True, sort_keys=False))
        return cls(find_binary("amtool", install="prometheus-alertmanager"), path)

    def route(self, labels: Mapping[str, str]) -> list[str]:
        """The receivers ``amtool config routes test`` prints for ``labels``, in order."""
        done = subprocess.run(
            [
                self.binary,
                "config",
                "routes",
                "test",
                f"--config.file={self.config}",
                *label_args(labels),
            ],
            capture_output=True,
            text=True,
            timeout=CALL_TIMEOUT_SECONDS,
            check=False,
        )
        if done.returncode != 0:
            raise AssertionError(f"amtool failed on {dict(labels)!r}: {done.stderr}")
        return done.stdout.strip().split(",")

    def route_many(self, label_sets: Sequence[Mapping[str, str]]) -> list[list[str]]:
        """``route`` for each label set, in parallel, answers in the same order."""
        with ThreadPoolExecutor(WORKERS) as pool:
            return list(pool.map(self.route, label_sets))

    def accepts(self) -> tuple[bool, str]:
        """Whether ``amtool check-config`` accepts the file, and what it said."""
        done = subprocess.run(
            [self.binary, "check-config", str(self.config)],
            capture_output=True,
            text=True,
            timeout=CALL_TIMEOUT_SECONDS,
            check=False,
        )
        return done.returncode == 0, done.stdout + done.stderr


def check_many(configs: Sequence[Amtool]) -> list[tuple[bool, str]]:
    """``accepts`` for many config files, in parallel."""
    with ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(Amtool.accepts, configs))
