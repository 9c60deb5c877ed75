"""Which runwatch.yaml a command reads: the one discovery order for every command.

``--config``, then ``RUNWATCH_CONFIG``, then ``./runwatch.yaml``, then
``$XDG_CONFIG_HOME/runwatch/runwatch.yaml`` (default ``~/.config/runwatch/``), then
``/etc/runwatch/runwatch.yaml`` — so a crontab line, which runs in ``$HOME`` with a
minimal environment, finds the same settings as a shell in the project folder.
Standard library only: `runwatch wrap` calls this on every cron invocation.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Mapping

from runner.errors import DefinitionError

CONFIG_NAME = "runwatch.yaml"
ETC_DIR = "/etc/runwatch"
"""The system-wide settings folder (a parameter, so tests never touch the real one)."""


def user_home(env: Mapping[str, str]) -> str:
    """``$HOME``, else the account's home directory."""
    return env.get("HOME") or pwd.getpwuid(os.getuid()).pw_dir


def expand_user(text: str, env: Mapping[str, str]) -> str:
    """``~`` and ``~/…`` resolved against ``env``'s HOME; other text unchanged."""
    if text != "~" and not text.startswith("~/"):
        return text
    return os.path.join(user_home(env), text[2:])


def search_path(env: Mapping[str, str], cwd: str, *, etc_dir: str = ETC_DIR) -> list[str]:
    """The places looked at, in order, when neither --config nor RUNWATCH_CONFIG is set."""
    config_home = env.get("XDG_CONFIG_HOME") or os.path.join(user_home(env), ".config")
    return [
        os.path.join(cwd, CONFIG_NAME),
        os.path.join(config_home, "runwatch", CONFIG_NAME),
        os.path.join(etc_dir, CONFIG_NAME),
    ]


def find_settings_file(
    config: str | None, env: Mapping[str, str], cwd: str, *, etc_dir: str = ETC_DIR
) -> str | None:
    """The settings file to read, as an absolute path; None when there is none.

    An explicit choice (``--config`` or ``RUNWATCH_CONFIG``) that names no file is a
    DefinitionError rather than a silent fall-through to another file.
    """
    for given, source in ((config, "--config"), (env.get("RUNWATCH_CONFIG"), "RUNWATCH_CONFIG")):
        if given:
            path = os.path.normpath(os.path.join(cwd, expand_user(given, env)))
            if not os.path.isfile(path):
                raise DefinitionError(f"{source}: config file '{given}' does not exist")
            return path
    for candidate in search_path(env, cwd, etc_dir=etc_dir):
        if os.path.isfile(candidate):
            return candidate
    return None


def describe_search(env: Mapping[str, str], cwd: str, *, etc_dir: str = ETC_DIR) -> str:
    """The search path as one phrase for messages (``a, b or c``)."""
    home = user_home(env)
    shown = [
        "~" + p[len(home) :] if p.startswith(home + os.sep) else p
        for p in search_path(env, cwd, etc_dir=etc_dir)
    ]
    return ", ".join(shown[:-1]) + " or " + shown[-1]
