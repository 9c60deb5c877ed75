"""Scheduling commands end to end: `schedule-preview`, `pause`, `unpause`, `trigger`,
`backfill`, run as real processes against a real SQLite store."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runner.store.store import Store
from tests.e2e.cli import clean_env

Runwatch = Callable[..., subprocess.CompletedProcess[str]]

JOBS = """\
jobs:
  nightly:
    command: 'true'
    schedule: "30 2 * * *"
    timezone: Europe/Berlin
  nightly-both:
    command: 'true'
    schedule: "30 2 * * *"
    timezone: Europe/Berlin
    dst: {repeated: both}
  hourly-ny:
    command: 'true'
    schedule: "0 * * * *"
    timezone: America/New_York
  adhoc:
    command: 'echo "k=$RUNWATCH_PARAM_K"'
  slow:
    command: 'sleep 0.4'
    schedule: "0 * * * *"
  etl:
    schedule: "0 * * * *"
    tasks:
      extract:
        command: 'echo "$RUNWATCH_LOGICAL_TIME" >> extract.log'
      load:
        command: 'test "$RUNWATCH_LOGICAL_TIME" != 2026-01-01T01:00:00+00:00 || test -e fixed'
        after: [extract]
  report:
    command: 'true'
    schedule: {after: [nightly, etl], period: day}
"""

NO_SCHEDULER_WARNING = "no `runwatch serve` heartbeat in the last minute"


@pytest.fixture
def runwatch(tmp_path: Path, home: Path) -> Runwatch:
    """Runs `runwatch ARGS --jobs jobs.yaml` in ``tmp_path`` (``--jobs`` only where the
    command takes it)."""
    (tmp_path / "jobs.yaml").write_text(JOBS)

    def call(*args: str, jobs: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "runner", *args, *(["--jobs", "jobs.yaml"] if jobs else [])],
            cwd=tmp_path,
            env=clean_env(home),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    return call


def runs_json(runwatch: Runwatch, *args: str) -> list[dict[str, object]]:
    result = runwatch("runs", "--format", "json", "--limit", "100", *args, jobs=False)
    assert result.returncode == 0, result.stderr
    data: list[dict[str, object]] = json.loads(result.stdout)
    return sorted(data, key=lambda r: str(r["logical_time"]))


def jobs_json(runwatch: Runwatch) -> dict[str, dict[str, object]]:
    result = runwatch("jobs", "--format", "json")
    assert result.returncode == 0, result.stderr
    return {j["job"]: j for j in json.loads(result.stdout)}


def open_store(home: Path) -> Store:
    """The store the CLI uses under ``home``, created (and migrated) if need be."""
    home.mkdir(parents=True, exist_ok=True)
    return Store.open(f"sqlite:///{home / 'runwatch.db'}")


def assert_usage_error(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert "internal error" not in result.stderr


# -- schedule-preview ------------------------------------------------------------------


def test_schedule_preview_of_a_job_that_runs_after_others_says_so(runwatch: Runwatch) -> None:
    result = runwatch("schedule-preview", "report", "--count", "2", "--since", "2026-03-27T12:00Z")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "report: after nightly, etl, once per day in UTC; it runs when they have all "
        "succeeded in the period, not at these period starts"
    )
    assert [line.split()[0] for line in lines if line.startswith("2026-")] == [
        "2026-03-28",
        "2026-03-29",
    ]


def test_schedule_preview_shows_local_and_utc_times_and_marks_the_spring_forward_gap(
    runwatch: Runwatch,
) -> None:
    result = runwatch("schedule-preview", "nightly", "--count", "3", "--since", "2026-03-28T00:00Z")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "nightly: 30 2 * * * in Europe/Berlin"
    rows = [line for line in lines if line.startswith("2026-")]
    assert len(rows) == 3
    assert rows[0].split() == ["2026-03-28", "02:30:00", "CET", "2026-03-28", "01:30:00"]
    assert rows[1].split()[:5] == ["2026-03-29", "03:00:00", "CEST", "2026-03-29", "01:00:00"]
    assert rows[1].endswith("moved past a DST gap")
    assert rows[2].split() == ["2026-03-30", "02:30:00", "CEST", "2026-03-30", "00:30:00"]


def test_schedule_preview_json_lists_both_occurrences_of_the_repeated_hour(
    runwatch: Runwatch,
) -> None:
    result = runwatch(
        "schedule-preview",
        "hourly-ny",
        "--count",
        "4",
        "--since",
        "2026-11-01T04:30:00+00:00",
        "--format",
        "json",
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        {
            "local": "2026-11-01T01:00:00-04:00",
            "utc": "2026-11-01T05:00:00+00:00",
            "dst_shift": None,
        },
        {
            "local": "2026-11-01T01:00:00-05:00",
            "utc": "2026-11-01T06:00:00+00:00",
            "dst_shift": "repeat",
        },
        {
            "local": "2026-11-01T02:00:00-05:00",
            "utc": "2026-11-01T07:00:00+00:00",
            "dst_shift": None,
        },
        {
            "local": "2026-11-01T03:00:00-05:00",
            "utc": "2026-11-01T08:00:00+00:00",
            "dst_shift": None,
        },
    ]


def test_schedule_preview_follows_the_jobs_dst_policy_on_fall_back(runwatch: Runwatch) -> None:
    since = ("--since", "2026-10-24T12:00:00Z", "--count", "3", "--format", "json")

    once = json.loads(runwatch("schedule-preview", "nightly", *since).stdout)
    both = json.loads(runwatch("schedule-preview", "nightly-both", *since).stdout)

    assert [(f["local"], f["dst_shift"]) for f in once] == [
        ("2026-10-25T02:30:00+02:00", None),
        ("2026-10-26T02:30:00+01:00", None),
        ("2026-10-27T02:30:00+01:00", None),
    ]
    assert [(f["local"], f["dst_shift"]) for f in both] == [
        ("2026-10-25T02:30:00+02:00", None),
        ("2026-10-25T02:30:00+01:00", "repeat"),
        ("2026-10-26T02:30:00+01:00", None),
    ]
    table = runwatch("schedule-preview", "nightly-both", *since[:4]).stdout
    assert "second occurrence (DST)" in table


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("adhoc",), "job 'adhoc' has no schedule"),
        (("nightli",), "job 'nightli' is not defined (did you mean 'nightly'?)"),
        (("nightly", "--count", "0"), "--count 0: expected 1 to 10000"),
        (("nightly", "--since", "yesterday"), "--since 'yesterday'"),
    ],
    ids=["no-schedule", "unknown-job", "zero-count", "bad-since"],
)
def test_schedule_preview_rejects_bad_input_with_a_message_and_exit_2(
    runwatch: Runwatch, args: tuple[str, ...], message: str
) -> None:
    assert_usage_error(runwatch("schedule-preview", *args), message)


# -- pause, unpause, trigger -----------------------------------------------------------


def test_pause_and_unpause_show_in_the_jobs_listing(runwatch: Runwatch) -> None:
    paused = runwatch("pause", "nightly")
    assert paused.returncode == 0, paused.stderr
    assert paused.stdout == "nightly paused\n"
    listed = jobs_json(runwatch)
    assert listed["nightly"]["paused"] is True
    assert listed["hourly-ny"]["paused"] is False

    unpaused = runwatch("unpause", "nightly")
    assert unpaused.returncode == 0, unpaused.stderr
    assert unpaused.stdout == "nightly unpaused\n"
    assert jobs_json(runwatch)["nightly"]["paused"] is False


def test_pause_of_an_unknown_job_fails_with_a_suggestion(runwatch: Runwatch) -> None:
    assert_usage_error(runwatch("pause", "nighty"), "did you mean 'nightly'?")


def test_trigger_queues_a_manual_run_with_its_params_and_warns_without_a_scheduler(
    runwatch: Runwatch,
) -> None:
    result = runwatch("trigger", "adhoc", "--param", "k=v w")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("run 1 of adhoc queued")
    assert NO_SCHEDULER_WARNING in result.stderr
    (run,) = runs_json(runwatch)
    assert (run["job"], run["state"], run["trigger"]) == ("adhoc", "queued", "manual")
    shown = json.loads(runwatch("show", str(run["run_id"]), "--format", "json", jobs=False).stdout)
    assert shown["params"] == {"k": "v w"}


def test_trigger_does_not_warn_while_a_scheduler_heartbeat_is_fresh(
    runwatch: Runwatch, home: Path
) -> None:
    with open_store(home) as store:
        # The CLI reads the real clock, so the heartbeat must be real "now" too.
        store.heartbeat("scheduler:test", datetime.now(UTC), {"state": "running"})

    result = runwatch("trigger", "adhoc")

    assert result.returncode == 0, result.stderr
    assert NO_SCHEDULER_WARNING not in result.stderr


def test_trigger_warns_when_the_latest_scheduler_heartbeat_says_it_stopped(
    runwatch: Runwatch, home: Path
) -> None:
    with open_store(home) as store:
        # What `runwatch serve` writes as it shuts down cleanly.
        store.heartbeat("scheduler:test", datetime.now(UTC), {"state": "stopped"})

    result = runwatch("trigger", "adhoc")

    assert result.returncode == 0, result.stderr
    assert NO_SCHEDULER_WARNING in result.stderr


def test_trigger_rejects_a_malformed_param(runwatch: Runwatch) -> None:
    assert_usage_error(runwatch("trigger", "adhoc", "--param", "no-equals"), "--param 'no-equals'")
    assert runs_json(runwatch) == []


# -- backfill --------------------------------------------------------------------------


def _overlap(runs: list[dict[str, object]]) -> int:
    """The most runs that were running at the same moment."""
    edges = []
    for run in runs:
        edges.append((datetime.fromisoformat(str(run["started_at"])), 1))
        edges.append((datetime.fromisoformat(str(run["finished_at"])), -1))
    most = current = 0
    for _, change in sorted(edges):  # an end sorts before a start at the same instant
        current += change
        most = max(most, current)
    return most


def test_backfill_creates_one_run_per_fire_time_at_most_max_active_at_once(
    runwatch: Runwatch,
) -> None:
    result = runwatch(
        "backfill",
        "slow",
        "--from",
        "2026-01-01T00:00Z",
        "--to",
        "2026-01-01T03:00Z",
        "--max-active",
        "2",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    runs = runs_json(runwatch)
    assert [r["logical_time"] for r in runs] == [f"2026-01-01T0{h}:00:00+00:00" for h in range(4)]
    assert {(r["trigger"], r["state"]) for r in runs} == {("backfill", "success")}
    assert _overlap(runs) == 2


def test_second_identical_backfill_runs_nothing_new(runwatch: Runwatch) -> None:
    backfill = ("backfill", "slow", "--from", "2026-01-01T00:00Z", "--to", "2026-01-01T01:00Z")
    assert runwatch(*backfill).returncode == 0
    before = runs_json(runwatch)

    again = runwatch(*backfill)

    assert again.returncode == 0, again.stdout + again.stderr
    assert "2 fire times, 2 succeeded" in again.stdout
    assert "0 to run" in again.stdout
    assert runs_json(runwatch) == before


def test_backfill_reruns_a_failed_fire_time_and_only_its_unsuccessful_tasks(
    runwatch: Runwatch, tmp_path: Path
) -> None:
    backfill = ("backfill", "etl", "--from", "2026-01-01T00:00Z", "--to", "2026-01-01T02:00Z")

    first = runwatch(*backfill)

    assert first.returncode == 1, first.stdout + first.stderr
    runs = runs_json(runwatch)
    assert [r["state"] for r in runs] == ["success", "failed", "success"]

    (tmp_path / "fixed").touch()
    second = runwatch(*backfill)

    assert second.returncode == 0, second.stdout + second.stderr
    assert "1 to run" in second.stdout
    rerun = runs_json(runwatch)
    assert [r["run_id"] for r in rerun] == [r["run_id"] for r in runs]  # no new run
    assert [r["state"] for r in rerun] == ["success", "success", "success"]
    extracted = (tmp_path / "extract.log").read_text().splitlines()
    assert sorted(extracted) == [f"2026-01-01T0{h}:00:00+00:00" for h in range(3)]


def test_backfill_across_fall_back_creates_a_run_for_each_repeated_hour(
    runwatch: Runwatch,
) -> None:
    result = runwatch(
        "backfill",
        "hourly-ny",
        "--from",
        "2026-11-01T00:00:00-04:00",
        "--to",
        "2026-11-01T02:00:00-05:00",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert [r["logical_time"] for r in runs_json(runwatch)] == [
        "2026-11-01T04:00:00+00:00",
        "2026-11-01T05:00:00+00:00",
        "2026-11-01T06:00:00+00:00",
        "2026-11-01T07:00:00+00:00",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("slow", "--from", "2026-01-02T00:00Z", "--to", "2026-01-01T00:00Z"),
            "--to 2026-01-01T00:00Z is before --from 2026-01-02T00:00Z",
        ),
        (("slo", "--from", "2026-01-01", "--to", "2026-01-02"), "did you mean 'slow'?"),
        (("adhoc", "--from", "2026-01-01", "--to", "2026-01-02"), "'adhoc' has no schedule"),
        (("slow", "--from", "yesterday", "--to", "2026-01-02"), "--from 'yesterday'"),
        (("slow", "--from", "2026-01-01", "--to", "2026-13-01"), "--to '2026-13-01'"),
        (
            ("slow", "--from", "2026-01-01", "--to", "2026-01-02", "--max-active", "0"),
            "argument --max-active: expected a whole number from 1 to",
        ),
        (("slow", "--from", "0001-01-01T00:00Z", "--to", "0001-01-01T02:00Z"), "--from"),
    ],
    ids=[
        "to-before-from",
        "unknown-job",
        "no-schedule",
        "bad-from",
        "bad-to",
        "zero-max-active",
        "out-of-range",
    ],
)
def test_backfill_rejects_bad_input_with_a_message_and_exit_2(
    runwatch: Runwatch, args: tuple[str, ...], message: str
) -> None:
    assert_usage_error(runwatch("backfill", *args), message)


def test_backfill_of_a_range_without_fire_times_succeeds_doing_nothing(
    runwatch: Runwatch,
) -> None:
    moment = datetime(2026, 1, 1, 0, 10, tzinfo=UTC)
    result = runwatch(
        "backfill",
        "slow",
        "--from",
        moment.isoformat(),
        "--to",
        (moment + timedelta(minutes=30)).isoformat(),
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 fire times" in result.stdout
    assert runs_json(runwatch) == []
