"""Datasets (``?page=lineage``): each dataset's freshness, and the lineage graph of
datasets and jobs; ``dataset_table`` also lists a job's or a run's inputs and outputs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import streamlit as st
from sqlalchemy import Connection

from dashboards.lineage import ICONS, STALE_AFTER, freshness, lineage_chart
from dashboards.routes import job_href, run_href
from dashboards.timezones import duration_text
from dashboards.viewer import Viewer
from dashboards.views.links import link_column
from runner.dataset_names import Dataset
from runner.store.dashboard_reads.datasets import DatasetLink, Lineage, lineage

READERS = ("input", "on_all", "on_any")
"""Directions of a link whose job reads the dataset (an input, or its schedule's)."""
USES = {
    "input": "reads",
    "output": "writes",
    "on_all": "runs when all are updated",
    "on_any": "runs when any is updated",
}


def render(conn: Connection, viewer: Viewer) -> None:
    """Every dataset with its producers, consumers and freshness, then the graph."""
    st.header("Datasets and lineage")
    found = lineage(conn)
    if not found.links and not found.updates:
        st.info(
            "No task declares a dataset yet: give tasks `inputs:` and `outputs:` "
            "(or `runwatch wrap --output URI`)."
        )
        return
    every = sorted({link.dataset for link in found.links} | set(found.updates))
    rows = []
    for dataset in every:
        update = found.updates.get(dataset)
        rows.append(
            {
                "dataset": dataset.uri,
                "freshness": _shown(dataset, found, viewer.now),
                "last update": viewer.time(update.at) if update else "",
                "age": duration_text((viewer.now - update.at).total_seconds()) if update else "",
                "by run": run_href(update.run_id) if update else None,
                "producers": ", ".join(_tasks(found.links, dataset, ("output",))),
                "consumers": ", ".join(_tasks(found.links, dataset, READERS)),
            }
        )
    st.dataframe(
        rows,
        hide_index=True,
        key="lineage-datasets",
        column_config={
            "by run": link_column("by run", r"\?run=(\d+)", width=70),
            "last update": st.column_config.TextColumn(f"last update ({viewer.zone})"),
        },
    )
    stale = duration_text(STALE_AFTER.total_seconds())
    st.caption(
        f"Stale: not updated by a successful attempt for {stale}; "
        "external: no task in runwatch writes it."
    )
    st.subheader("Lineage")
    st.vega_lite_chart(spec=lineage_chart(found, viewer.now), width="stretch")
    st.caption(
        "Jobs (squares) point at the datasets they write, datasets at the jobs that read them."
    )


def dataset_table(
    links: Sequence[DatasetLink],
    found: Lineage,
    viewer: Viewer,
    key: str,
    updated: Mapping[tuple[str, Dataset], datetime] | None = None,
) -> None:
    """A job's or run's inputs and outputs with their freshness; ``updated`` (a run's
    page) adds when this run updated each."""
    if not links:
        st.caption("Its tasks declare no dataset (`inputs:`, `outputs:`).")
        return
    rows = []
    for link in links:
        update = found.updates.get(link.dataset)
        row = {
            "task": link.task or "(schedule)",
            "reads / writes": USES[link.direction],
            "dataset": link.dataset.uri,
            "freshness": _shown(link.dataset, found, viewer.now),
            "last update": viewer.time(update.at) if update else "",
            "updated by": job_href(update.job) if update else None,
        }
        if updated is not None:
            at = updated.get((link.task, link.dataset))
            row["by this run"] = viewer.time(at) if at else ""
        rows.append(row)
    st.dataframe(
        rows,
        hide_index=True,
        key=key,
        column_config={"updated by": link_column("updated by", r"\?job=(.*)")},
    )


def _shown(dataset: Dataset, found: Lineage, now: datetime) -> str:
    state = freshness(dataset, found, now)
    return f"{ICONS[state]} {state.value}"


def _tasks(
    links: Sequence[DatasetLink], dataset: Dataset, directions: tuple[str, ...]
) -> list[str]:
    return [
        f"{link.job}/{link.task}" if link.task else f"{link.job} (schedule)"
        for link in links
        if link.dataset == dataset and link.direction in directions
    ]
