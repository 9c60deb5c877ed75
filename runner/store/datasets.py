"""Datasets: what each task declares it reads and writes (``task_datasets``), and every
update of an output by a successful attempt (``dataset_updates``), revision 0012.

``Store.sync_jobs`` declares the job files' datasets here; wrap's recorder declares its
``--input``/``--output`` with the same statements (``spine_sql``), and both writers
record an update of each declared output in the transaction that records an attempt's
success, so an output is "updated" only by a successful attempt.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from runner.dataset_names import Dataset
from runner.model import Job
from runner.store import spine_sql as sql
from runner.store.database import Database
from runner.store.records import from_epoch

if TYPE_CHECKING:
    from runner.store.store import Store

INPUT = "input"
OUTPUT = "output"
ON_ALL, ON_ANY = "on_all", "on_any"
"""The datasets of a data-aware schedule (``task`` is empty): the job runs when all, or
any, of them were updated."""


def declaration_rows(
    job: str, task: str, direction: str, datasets: Iterable[Dataset]
) -> list[dict[str, str]]:
    """The ``task_datasets`` rows of one task's inputs or outputs."""
    return [
        {"job": job, "task": task, "direction": direction, "namespace": d.namespace, "name": d.name}
        for d in datasets
    ]


def declare_jobs(db: Database, jobs: Iterable[Job]) -> None:
    """Replace the declared datasets of these jobs with what their definitions declare."""
    for job in jobs:
        db.execute(sql.FORGET_DECLARED_DATASETS, {"job": job.name})
        rows = [
            row
            for task in job.tasks.values()
            for direction, declared in ((INPUT, task.inputs), (OUTPUT, task.outputs))
            for row in declaration_rows(job.name, task.name, direction, declared)
        ]
        schedule = job.dataset_schedule
        if schedule is not None:
            on = ON_ANY if schedule.any else ON_ALL
            rows.extend(declaration_rows(job.name, "", on, schedule.datasets))
        if rows:
            db.executemany(sql.DECLARE_DATASET, rows)


def record_updates(
    db: Database, job: str, run_id: int, task: str, *, attempt: int, at: float
) -> list[Dataset]:
    """An update of each output of ``task`` by its successful attempt ``attempt``; the
    datasets updated."""
    rows = db.rows(
        sql.RECORD_DATASET_UPDATES,
        {"job": job, "run_id": run_id, "task": task, "attempt": attempt, "at": at},
    )
    return [Dataset(row["namespace"], row["name"]) for row in rows]


@dataclass(frozen=True)
class DatasetUpdate:
    """One update of a dataset: which attempt made it, and when."""

    id: int
    dataset: Dataset
    job: str
    run_id: int
    task: str
    attempt: int
    at: datetime


@dataclass(frozen=True)
class DatasetState:
    """A dataset the store knows: who declares it, and its last update (None: never)."""

    dataset: Dataset
    producers: tuple[str, ...]
    """``job/task`` of every task declaring it as an output."""
    consumers: tuple[str, ...]
    """``job/task`` of every task declaring it as an input; ``job`` alone for a job whose
    data-aware schedule names it."""
    last_update: DatasetUpdate | None
    owners: tuple[str, ...] = ()
    """The owners of the producing jobs."""


_LAST_UPDATES = (
    "SELECT u.* FROM dataset_updates u JOIN (SELECT namespace, name, MAX(id) AS id "
    "FROM dataset_updates GROUP BY namespace, name) last ON u.id = last.id"
)
_DECLARED = (
    "SELECT d.job, d.task, d.direction, d.namespace, d.name, j.owner FROM task_datasets d "
    "LEFT JOIN jobs j ON j.name = d.job ORDER BY d.namespace, d.name, d.job, d.task"
)


def _update(row: dict[str, object]) -> DatasetUpdate:
    return DatasetUpdate(
        id=int(str(row["id"])),
        dataset=Dataset(str(row["namespace"]), str(row["name"])),
        job=str(row["job"]),
        run_id=int(str(row["run_id"])),
        task=str(row["task"]),
        attempt=int(str(row["attempt"])),
        at=from_epoch(float(str(row["updated_at"]))),
    )


def dataset_states(store: Store) -> list[DatasetState]:
    """Every dataset declared by a job or updated by an attempt, by namespace and name."""
    db = store._db
    last = {u.dataset: u for u in map(_update, db.rows(_LAST_UPDATES))}
    producers: dict[Dataset, list[str]] = {}
    consumers: dict[Dataset, list[str]] = {}
    owners: dict[Dataset, list[str]] = {}
    for row in db.rows(_DECLARED):
        dataset = Dataset(row["namespace"], row["name"])
        side = producers if row["direction"] == OUTPUT else consumers
        side.setdefault(dataset, []).append(
            f"{row['job']}/{row['task']}" if row["task"] else row["job"]
        )
        producers.setdefault(dataset, [])
        consumers.setdefault(dataset, [])
        if row["direction"] == OUTPUT and row["owner"]:
            owners.setdefault(dataset, []).append(row["owner"])
    known = sorted({*last, *producers})
    return [
        DatasetState(
            dataset=d,
            producers=tuple(producers.get(d, ())),
            consumers=tuple(consumers.get(d, ())),
            last_update=last.get(d),
            owners=tuple(dict.fromkeys(owners.get(d, ()))),
        )
        for d in known
    ]


def last_update_times(store: Store) -> dict[Dataset, float]:
    """When each dataset was last updated (epoch seconds), for the freshness gauge."""
    db = store._db
    rows = db.rows(
        "SELECT namespace, name, MAX(updated_at) AS at FROM dataset_updates "
        "GROUP BY namespace, name"
    )
    return {Dataset(row["namespace"], row["name"]): float(row["at"]) for row in rows}


def _among(datasets: Iterable[Dataset], params: dict[str, object]) -> str:
    """A predicate matching the rows of these datasets; their values go into ``params``."""
    pairs = []
    for i, d in enumerate(sorted(set(datasets))):
        params[f"ns{i}"], params[f"n{i}"] = d.namespace, d.name
        pairs.append(f"(namespace = :ns{i} AND name = :n{i})")
    return f"({' OR '.join(pairs) or '1 = 0'})"


def updates_of(
    store: Store, datasets: Iterable[Dataset], *, after_id: int = 0
) -> list[DatasetUpdate]:
    """The updates of these datasets with an id above ``after_id``, oldest first."""
    db = store._db
    params: dict[str, object] = {"after": after_id}
    among = _among(datasets, params)
    rows = db.rows(
        f"SELECT * FROM dataset_updates WHERE id > :after AND {among} ORDER BY id", params
    )
    return [_update(row) for row in rows]


def last_update_id_until(store: Store, datasets: Iterable[Dataset], at: float) -> int:
    """The newest id of an update of these datasets made at or before ``at`` (0: none)."""
    db = store._db
    params: dict[str, object] = {"at": at}
    among = _among(datasets, params)
    found = db.scalar(
        f"SELECT MAX(id) FROM dataset_updates WHERE updated_at <= :at AND {among}", params
    )
    return int(found or 0)


def last_dataset_run_at(store: Store, job: str) -> float | None:
    """The logical time of the job's newest run made by its data-aware schedule."""
    db = store._db
    found = db.scalar(
        "SELECT MAX(logical_time) FROM runs WHERE job = :job AND trigger = 'dataset'",
        {"job": job},
    )
    return None if found is None else float(found)


def newest_update_id(store: Store) -> int:
    """The id of the newest dataset update (0: none yet)."""
    db = store._db
    return int(db.scalar("SELECT MAX(id) FROM dataset_updates") or 0)


def declared_by_task(
    store: Store, job: str
) -> dict[str, tuple[tuple[Dataset, ...], tuple[Dataset, ...]]]:
    """Each task of ``job`` and the (inputs, outputs) it declares."""
    db = store._db
    found: dict[str, tuple[list[Dataset], list[Dataset]]] = {}
    rows = db.rows(
        "SELECT task, direction, namespace, name FROM task_datasets WHERE job = :job "
        "AND direction IN ('input', 'output') ORDER BY task, namespace, name",
        {"job": job},
    )
    for row in rows:
        inputs, outputs = found.setdefault(row["task"], ([], []))
        side = outputs if row["direction"] == OUTPUT else inputs
        side.append(Dataset(row["namespace"], row["name"]))
    return {task: (tuple(i), tuple(o)) for task, (i, o) in found.items()}
