"""The quality gates run with the suite: ruff, mypy --strict and the import contracts."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

# mypy --strict on a cold cache takes minutes on a loaded 2-core machine: a slow gate is
# not a failing gate, so these tests get more than the suite's 120 s.
pytestmark = pytest.mark.timeout(900)


def _tool(name: str) -> str:
    path = BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: install the dev extras (pip install -e '.[dev]')")
    return found


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_finds_no_lint_errors() -> None:
    result = _run(_tool("ruff"), "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_code_is_ruff_formatted() -> None:
    result = _run(_tool("ruff"), "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_passes() -> None:
    result = _run(_tool("mypy"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_import_contracts_hold() -> None:
    result = _run(_tool("lint-imports"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_module_of_the_tree_has_a_layer() -> None:
    """The layers contract covers the whole tree: a new module of runner/ must be placed."""
    import tomllib

    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (layers,) = [c["layers"] for c in contracts["contracts"] if c["type"] == "layers"]
    placed = {name.strip() for layer in layers for name in layer.split("|")}
    unplaced_roots = {"runner.__init__", "runner.__main__"}
    tree = {
        f"runner.{path.stem}"
        for path in (ROOT / "runner").iterdir()
        if (path.suffix == ".py" or (path / "__init__.py").is_file())
    } | {"alerting", "dashboards"}
    assert sorted(tree - unplaced_roots - placed) == []
    assert sorted(placed - tree) == []


@pytest.mark.parametrize("package", ["runner", "alerting", "dashboards"])
def test_every_package_ships_its_type_marker(package: str) -> None:
    """PEP 561: a checker only trusts the hints of a package that ships ``py.typed``."""
    import tomllib

    assert (ROOT / package / "py.typed").is_file()
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "py.typed" in data["tool"]["setuptools"]["package-data"][package]


_SQL = re.compile(
    r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|ON\s+CONFLICT)\b",
    re.IGNORECASE | re.DOTALL,
)


def _sql_texts(path: Path) -> list[tuple[int, str]]:
    """The string constants of a module that read as SQL (line, text), docstrings left out."""
    tree = ast.parse(path.read_text(), filename=str(path))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    return sorted(
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and _SQL.search(node.value)
    )


def _modules_outside_the_store() -> list[Path]:
    """The modules of the code (runner, alerting, dashboards) that are not runner/store/."""
    store = ROOT / "runner" / "store"
    return [
        path
        for package in ("runner", "alerting", "dashboards")
        for path in sorted((ROOT / package).rglob("*.py"))
        if store not in path.parents
    ]


def test_no_sql_text_lives_outside_the_store() -> None:
    """runner/store/ is the one home of the project's SQL (issue 16)."""
    found = [
        f"{path.relative_to(ROOT)}:{line}: {text[:60]}"
        for path in _modules_outside_the_store()
        for line, text in _sql_texts(path)
    ]
    assert found == []


def test_no_code_outside_the_store_reaches_its_connection() -> None:
    """``Store._db`` is private: the code goes through ``Store`` and the query modules of
    runner/store/ (issue 16); an object's own ``self._db`` is its own business."""
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in _modules_outside_the_store()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path)))
        if isinstance(node, ast.Attribute)
        and node.attr == "_db"
        and not (isinstance(node.value, ast.Name) and node.value.id == "self")
    ]
    assert found == []


def test_the_sql_check_recognises_sql(tmp_path: Path) -> None:
    """The check above finds statements, however split, and passes prose and docstrings."""
    module = tmp_path / "m.py"
    module.write_text(
        '"""Select from the menu; UPDATE the docs."""\n'
        'A = "SELECT id FROM runs"\n'
        'B = ("INSERT INTO t (a) VALUES (:a) " "ON CONFLICT DO NOTHING")\n'
        "C = f\"UPDATE notifications SET {'x'} WHERE id = 1\"\n"
        'D = "select the rows you want to update"\n'
    )
    assert [text for _, text in _sql_texts(module)] == [
        "SELECT id FROM runs",
        "INSERT INTO t (a) VALUES (:a) ON CONFLICT DO NOTHING",
        "UPDATE notifications SET ",
    ]
