"""The datasets the dashboard shows: what each task declares it reads and writes, when
each dataset was last updated and by which run (revision 0012's tables)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select

from runner.dataset_names import Dataset
from runner.store.records import from_epoch
from runner.store.schema import dataset_updates, task_datasets


@dataclass(frozen=True)
class DatasetLink:
    """A task reading (``input``) or writing (``output``) a dataset."""

    job: str
    task: str
    direction: str
    dataset: Dataset


@dataclass(frozen=True)
class LastUpdate:
    """A dataset's newest update: when, and by which run of which job."""

    at: datetime
    run_id: int
    job: str
    task: str


@dataclass(frozen=True)
class Lineage:
    """Every declared link, and the last update of every dataset that had one."""

    links: tuple[DatasetLink, ...]
    updates: dict[Dataset, LastUpdate]


def lineage(conn: Connection, job: str | None = None) -> Lineage:
    """The declared links (of ``job``'s tasks only, when given) and the last updates."""
    query = select(task_datasets).order_by(
        task_datasets.c.job, task_datasets.c.task, task_datasets.c.direction
    )
    if job is not None:
        query = query.where(task_datasets.c.job == job)
    links = tuple(
        DatasetLink(r.job, r.task, r.direction, Dataset(r.namespace, r.name))
        for r in conn.execute(query)
    )
    newest = (
        select(func.max(dataset_updates.c.id).label("id"))
        .group_by(dataset_updates.c.namespace, dataset_updates.c.name)
        .subquery()
    )
    rows = conn.execute(select(dataset_updates).join(newest, dataset_updates.c.id == newest.c.id))
    updates = {
        Dataset(r.namespace, r.name): LastUpdate(from_epoch(r.updated_at), r.run_id, r.job, r.task)
        for r in rows
        if job is None or any(link.dataset == Dataset(r.namespace, r.name) for link in links)
    }
    return Lineage(links, updates)


def run_updates(conn: Connection, run_id: int) -> dict[tuple[str, Dataset], datetime]:
    """What a run's attempts updated: (task, dataset) -> when."""
    rows = conn.execute(
        select(dataset_updates)
        .where(dataset_updates.c.run_id == run_id)
        .order_by(dataset_updates.c.id)
    )
    return {(r.task, Dataset(r.namespace, r.name)): from_epoch(r.updated_at) for r in rows}
