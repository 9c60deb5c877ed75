"""bench/run.py and bench/peers/compare.py: what they accept, print and record (no timings
are asserted: the figures are whatever the machine gives)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )


def _run_module() -> ModuleType:
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location("bench_run", BENCH / "run.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["bench_run"] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


def test_run_py_names_an_unknown_benchmark_and_the_known_ones() -> None:
    result = _bench("bench/run.py", "--only", "b1,nope")
    assert result.returncode == 2
    assert "unknown benchmark nope" in result.stderr
    assert "b1" in result.stderr.split("known:")[1]
    assert "Traceback" not in result.stderr


def test_run_py_lists_every_benchmark_with_the_slow_ones_marked() -> None:
    result = _bench("bench/run.py", "--list")
    assert result.returncode == 0, result.stderr
    names = [line.split()[0] for line in result.stdout.splitlines()]
    assert {"b1", "b2", "b3", "wrap", "width-200", "scheduler-lag", "celery"} <= set(names)
    assert "(slow)" in next(line for line in result.stdout.splitlines() if "scheduler-lag" in line)


def test_a_figure_is_printed_as_min_median_max_with_the_load_and_nproc() -> None:
    result = _bench("bench/run.py", "--only", "b1-inprocess", "--repeats", "2")
    assert result.returncode == 0, result.stderr
    first, figure = result.stdout.splitlines()[:2]
    assert first.startswith("nproc ")
    assert figure.startswith("b1-inprocess: ")
    assert "ms (min/median/max of 2), load " in figure
    low, median, high = (float(v) for v in figure.split(": ")[1].split(" ms")[0].split(" / "))
    assert low <= median <= high


def test_writing_the_table_replaces_only_what_is_between_the_markers(tmp_path: Path) -> None:
    run = _run_module()
    readme = tmp_path / "README.md"
    readme.write_text(f"# Benchmarks\n\nintro\n\n{run.BEGIN}\nold table\n{run.END}\n\n## Targets\n")
    run.write(f"{run.BEGIN}\nnew table\n{run.END}", readme)
    run.write(f"{run.BEGIN}\nnewer table\n{run.END}", readme)
    text = readme.read_text()
    assert "old table" not in text
    assert "new table\n" not in text
    assert text == f"# Benchmarks\n\nintro\n\n{run.BEGIN}\nnewer table\n{run.END}\n\n## Targets\n"


def test_writing_the_table_into_a_readme_without_markers_puts_it_before_the_first_section(
    tmp_path: Path,
) -> None:
    run = _run_module()
    readme = tmp_path / "README.md"
    readme.write_text("# Benchmarks\n\nintro\n\n## Targets\n\nrows\n")
    run.write(f"{run.BEGIN}\ntable\n{run.END}", readme)
    assert readme.read_text() == (
        f"# Benchmarks\n\nintro\n\n{run.BEGIN}\ntable\n{run.END}\n\n## Targets\n\nrows\n"
    )


def test_peers_compare_names_an_unknown_tool() -> None:
    result = _bench("bench/peers/compare.py", "--tools", "runwatch,luigi")
    assert result.returncode == 2
    assert "unknown luigi" in result.stderr
    assert "Traceback" not in result.stderr


def test_peers_compare_checks_every_runwatch_run_in_its_store() -> None:
    result = _bench("bench/peers/compare.py", "--tools", "runwatch", "--repeats", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "history checks 4/4 ok" in result.stdout, result.stdout
    assert "| runwatch 0" in result.stdout
