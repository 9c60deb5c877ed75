"""`runwatch datasets`: each dataset with its producer, last update and staleness, after
real runs (`runwatch run`, `runwatch wrap --output`)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.cli import clean_env, run_cli

JOBS = """
jobs:
  load-orders:
    owner: data-team
    command: ["true"]
    inputs: ["file:///data/in/orders.csv"]
    outputs: ["postgres://warehouse:5432/analytics.public.orders"]
  broken-report:
    command: ["false"]
    outputs: ["s3://reports/daily/orders.csv"]
"""


def test_datasets_lists_producers_last_updates_and_staleness(tmp_path: Path) -> None:
    (tmp_path / "jobs.yaml").write_text(JOBS)
    env = clean_env(tmp_path / "home")
    assert run_cli(tmp_path, env, "run", "load-orders", "--jobs", "jobs.yaml").returncode == 0
    assert run_cli(tmp_path, env, "run", "broken-report", "--jobs", "jobs.yaml").returncode == 1
    wrapped = run_cli(
        tmp_path, env, "wrap", "--job", "export", "--output", "file:///srv/export.csv", "--", "true"
    )
    assert wrapped.returncode == 0, wrapped.stderr

    listed = run_cli(tmp_path, env, "datasets", "--jobs", "jobs.yaml", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    by_uri = {d["uri"]: d for d in json.loads(listed.stdout)}
    orders = by_uri["postgres://warehouse:5432/analytics.public.orders"]
    assert orders["namespace"] == "postgres://warehouse:5432"
    assert orders["name"] == "analytics.public.orders"
    assert orders["producers"] == ["load-orders/load-orders"]
    assert orders["owners"] == ["data-team"]
    assert orders["last_update_by"] == "load-orders/load-orders"
    assert orders["stale"] is False
    report = by_uri["s3://reports/daily/orders.csv"]
    assert report["last_update_at"] is None  # its only run failed
    assert report["stale"] is True
    assert by_uri["file:///data/in/orders.csv"]["consumers"] == ["load-orders/load-orders"]
    assert by_uri["file:///data/in/orders.csv"]["stale"] is False  # nobody produces it
    assert by_uri["file:///srv/export.csv"]["producers"] == ["export/export"]

    text = run_cli(tmp_path, env, "datasets", "--jobs", "jobs.yaml", "--stale-after", "0s")
    assert text.returncode == 0, text.stderr
    line = next(x for x in text.stdout.splitlines() if "analytics.public.orders" in x)
    assert "load-orders/load-orders" in line
    assert "yes" in line  # older than 0s: stale


def test_a_bad_stale_after_is_exit_2_naming_the_option(tmp_path: Path) -> None:
    done = run_cli(tmp_path, clean_env(tmp_path / "home"), "datasets", "--stale-after", "soon")
    assert done.returncode == 2
    assert "--stale-after" in done.stderr
    assert "Traceback" not in done.stderr


def test_jobs_and_schedule_preview_say_a_job_runs_on_its_datasets(tmp_path: Path) -> None:
    (tmp_path / "jobs.yaml").write_text(
        "jobs:\n  report:\n    command: ['true']\n    schedule:\n"
        "      datasets: ['s3://reports/a.csv', 's3://reports/b.csv']\n      any: true\n"
    )
    env = clean_env(tmp_path / "home")
    listed = run_cli(tmp_path, env, "jobs", "--jobs", "jobs.yaml", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)[0]["schedule"] == "on any of 2 datasets"
    preview = run_cli(tmp_path, env, "schedule-preview", "report", "--jobs", "jobs.yaml")
    assert preview.returncode == 2
    assert "it runs when its datasets are updated" in preview.stderr
