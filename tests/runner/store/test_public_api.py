"""runner.store's public names: __all__ is honest, every name imports, and the package
itself imports nothing (wrap's lean path imports it for spine_sql and lean_connection)."""

from __future__ import annotations

import subprocess
import sys

import runner.store


def test_every_name_in_all_is_importable_from_the_package() -> None:
    for name in runner.store.__all__:
        assert getattr(runner.store, name) is not None, name


def test_all_lists_exactly_the_names_the_package_offers() -> None:
    assert set(runner.store.__all__) == set(runner.store._HOMES)
    assert runner.store.Store is runner.store.store.Store


def test_the_lean_modules_import_neither_typing_nor_the_rest_of_the_store() -> None:
    code = (
        "import sys, runner.store.spine_sql, runner.store.lean_connection; "
        "print(sorted(m for m in sys.modules if m.startswith(('typing', 'runner.store', "
        "'sqlalchemy', 'dataclasses', 'logging'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == str(
        ["runner.store", "runner.store.lean_connection", "runner.store.spine_sql"]
    )
