"""`from runner import job` must stay cheap: job files and `runwatch run` import it first."""

from __future__ import annotations

import subprocess
import sys

import runner.definitions

HEAVY = ("yaml", "sqlalchemy", "croniter", "alembic", "runner.store", "runner.engine")


def test_importing_the_python_api_loads_no_heavy_modules() -> None:
    code = (
        "import sys\n"
        "from runner import Skip, command, job, task\n"
        "import runner.definitions\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == ""


def test_the_definitions_package_exports_what_all_says() -> None:
    assert runner.definitions.__all__ == ["load_definitions"]
    assert callable(runner.definitions.load_definitions)
