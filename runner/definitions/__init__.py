"""Job definitions: YAML and Python job files, checked and turned into the model.

Importing this package stays cheap (no YAML parser): ``load_definitions`` imports the
loaders when it is first called, so ``from runner import job`` costs little.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from runner import model

__all__ = ["load_definitions"]


def load_definitions(
    paths: Sequence[Path], *, settings_file: Path | None = None
) -> model.Definitions:
    """Load and merge the jobs and pools of the given files and folders.

    Each path is a .yaml/.yml/.py file or a folder of them (sorted, not recursive,
    names starting with ``_`` or ``.`` skipped). ``settings_file`` is runwatch.yaml
    when it holds jobs itself (pass ``Settings.config_path``); its settings keys are
    then left to runner.config.
    """
    from runner.definitions.catalog import load_definitions as load

    return load(paths, settings_file=settings_file)
