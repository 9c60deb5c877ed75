"""The dashboard's read-only queries: every aggregate is computed by the database.

SQLAlchemy Core over the store's tables (runner.store.schema), in SQL that SQLite (3.25
or newer, for window functions) and PostgreSQL share. Percentiles are nearest-rank (the
value at rank ceil(p * n)). Times in the store are epoch seconds; everything returned is
aware UTC. Each page's queries live in one module; this one names them all.
"""

from __future__ import annotations

from runner.store.dashboard_reads.alerts import alerts_view
from runner.store.dashboard_reads.jobs import job_detail, job_wait
from runner.store.dashboard_reads.overview import (
    failure_reasons,
    firing_by_job,
    headline,
    job_rows,
    last_runs,
    window_stats,
)
from runner.store.dashboard_reads.runs import filter_options, run_detail, runs_page
from runner.store.dashboard_reads.sql import (
    duration_percentiles,
    has_alerting,
    like_json_string,
    masked_params,
    schema_revision,
    scrub_text,
)

__all__ = [
    "alerts_view",
    "duration_percentiles",
    "failure_reasons",
    "filter_options",
    "firing_by_job",
    "has_alerting",
    "headline",
    "job_detail",
    "job_rows",
    "job_wait",
    "last_runs",
    "like_json_string",
    "masked_params",
    "run_detail",
    "runs_page",
    "schema_revision",
    "scrub_text",
    "window_stats",
]
