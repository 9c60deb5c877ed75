"""Every command finds its settings file in one order: --config, RUNWATCH_CONFIG,
./runwatch.yaml, $XDG_CONFIG_HOME/runwatch/, ~/.config/runwatch/, /etc/runwatch/."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.config import load_settings
from runner.errors import DefinitionError
from runner.settings_file import describe_search, find_settings_file
from runner.wrap.settings import load_wrap_settings


class Places:
    """A home, a working directory, an XDG config home and an /etc stand-in, all empty."""

    def __init__(self, root: Path) -> None:
        self.home = root / "home"
        self.cwd = root / "work"
        self.xdg = root / "xdg"
        self.etc = root / "etc-runwatch"
        for folder in (self.home, self.cwd, self.xdg, self.etc):
            folder.mkdir()
        self.explicit = root / "explicit.yaml"
        self.from_env = root / "from-env.yaml"

    @property
    def in_cwd(self) -> Path:
        return self.cwd / "runwatch.yaml"

    @property
    def in_xdg(self) -> Path:
        return self.xdg / "runwatch" / "runwatch.yaml"

    @property
    def in_dot_config(self) -> Path:
        return self.home / ".config" / "runwatch" / "runwatch.yaml"

    @property
    def in_etc(self) -> Path:
        return self.etc / "runwatch.yaml"

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"home: {path.parent / 'state'}\n")
        return path

    def find(self, config: str | None = None, **env: str) -> str | None:
        return find_settings_file(
            config, {"HOME": str(self.home), **env}, str(self.cwd), etc_dir=str(self.etc)
        )


@pytest.fixture
def places(tmp_path: Path) -> Places:
    return Places(tmp_path)


def test_each_place_wins_over_every_later_one(places: Places) -> None:
    env = {"RUNWATCH_CONFIG": str(places.from_env)}
    for path in (places.in_etc, places.in_dot_config, places.in_cwd, places.from_env):
        places.write(path)
    places.write(places.explicit)

    assert places.find(str(places.explicit), **env) == str(places.explicit)
    assert places.find(**env) == str(places.from_env)
    assert places.find() == str(places.in_cwd)
    places.in_cwd.unlink()
    assert places.find() == str(places.in_dot_config)
    places.in_dot_config.unlink()
    assert places.find() == str(places.in_etc)
    places.in_etc.unlink()
    assert places.find() is None


def test_xdg_config_home_replaces_dot_config_and_still_comes_before_etc(places: Places) -> None:
    places.write(places.in_dot_config)
    places.write(places.in_etc)
    places.write(places.in_xdg)

    assert places.find(XDG_CONFIG_HOME=str(places.xdg)) == str(places.in_xdg)
    places.in_xdg.unlink()
    assert places.find(XDG_CONFIG_HOME=str(places.xdg)) == str(places.in_etc)


@pytest.mark.parametrize("source", ["--config", "RUNWATCH_CONFIG"])
def test_an_explicit_file_that_is_missing_is_an_error_not_a_fall_through(
    places: Places, source: str
) -> None:
    places.write(places.in_cwd)
    missing = str(places.cwd / "nope.yaml")
    config, env = (missing, {}) if source == "--config" else (None, {"RUNWATCH_CONFIG": missing})

    with pytest.raises(DefinitionError, match=rf"{source}: config file '.*nope\.yaml' does not"):
        places.find(config, **env)


def test_relative_and_home_relative_explicit_paths_are_resolved(places: Places) -> None:
    places.write(places.cwd / "conf" / "rw.yaml")
    places.write(places.home / "rw.yaml")

    assert places.find("conf/rw.yaml") == str(places.cwd / "conf" / "rw.yaml")
    assert places.find(RUNWATCH_CONFIG="~/rw.yaml") == str(places.home / "rw.yaml")


def test_settings_and_wrap_read_the_same_discovered_file(places: Places) -> None:
    places.write(places.in_etc)
    env = {"HOME": str(places.home)}

    settings = load_settings(None, env=env, cwd=places.cwd, etc_dir=str(places.etc))
    lean = load_wrap_settings(env, str(places.cwd), etc_dir=str(places.etc))

    assert settings.config_path == places.in_etc
    assert settings.home == places.etc / "state"
    assert lean.full is not None
    assert lean.full.config_path == places.in_etc
    assert lean.home == str(places.etc / "state")


def test_settings_through_runwatch_config_name_the_file_in_their_errors(places: Places) -> None:
    places.from_env.write_text("workers: 0\n")
    env = {"HOME": str(places.home), "RUNWATCH_CONFIG": str(places.from_env)}

    with pytest.raises(DefinitionError) as caught:
        load_settings(None, env=env, cwd=places.cwd, etc_dir=str(places.etc))

    assert str(caught.value).startswith(f"{places.from_env}:1: key 'workers'")


def test_the_search_is_described_with_the_home_folder_as_tilde(places: Places) -> None:
    text = describe_search({"HOME": str(places.home)}, str(places.home), etc_dir="/etc/runwatch")

    assert text == (
        "~/runwatch.yaml, ~/.config/runwatch/runwatch.yaml or /etc/runwatch/runwatch.yaml"
    )


def test_a_broken_alerting_section_does_not_lose_the_store_wrap_records_in(
    places: Places,
) -> None:
    places.in_cwd.write_text(
        "home: state\nalerting:\n  receivers:\n    s: {kind: slack, webhook_url: '${HOOK}'}\n"
    )

    lean = load_wrap_settings({"HOME": str(places.home)}, str(places.cwd), etc_dir=str(places.etc))

    assert lean.home == str(places.cwd / "state")
    assert lean.alerting_problem is not None
    assert "environment variable HOOK is not set" in lean.alerting_problem
