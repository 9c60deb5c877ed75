"""Datasets and the jobs between them: freshness, and the lineage graph as Vega-Lite.

A job points at the datasets its tasks write, a dataset at the jobs whose tasks read it;
laid out left to right by ``dashboards.graph.frame``. A dataset is *fresh* when a
successful attempt updated it within ``STALE_AFTER``, *stale* past it, *never updated*
when a task produces it but none did yet, *external* when nothing in runwatch writes it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from dashboards.charts import Spec
from dashboards.graph import frame
from runner.dataset_names import Dataset
from runner.store.dashboard_reads.datasets import Lineage

STALE_AFTER = timedelta(hours=26)
"""A produced dataset not updated for this long is shown stale (the alert rule's usual ``for``)."""


class Freshness(StrEnum):
    """How current a dataset is."""

    FRESH = "fresh"
    STALE = "stale"
    NEVER = "never updated"
    EXTERNAL = "external"


COLOURS = {
    Freshness.FRESH: "#2e7d32",
    Freshness.STALE: "#c62828",
    Freshness.NEVER: "#f9a825",
    Freshness.EXTERNAL: "#9e9e9e",
}
ICONS = {
    Freshness.FRESH: "🟢",
    Freshness.STALE: "🔴",
    Freshness.NEVER: "🟡",
    Freshness.EXTERNAL: "⚪",
}
_JOB_COLOUR = "#1565c0"


def freshness(dataset: Dataset, lineage: Lineage, now: datetime) -> Freshness:
    """How current ``dataset`` is at ``now``."""
    update = lineage.updates.get(dataset)
    if update is not None:
        return Freshness.FRESH if now - update.at <= STALE_AFTER else Freshness.STALE
    produced = any(link.dataset == dataset and link.direction == "output" for link in lineage.links)
    return Freshness.NEVER if produced else Freshness.EXTERNAL


def lineage_chart(lineage: Lineage, now: datetime) -> Spec:
    """Jobs (blue squares) and datasets (circles by freshness), edges in data-flow order."""
    upstream: dict[str, list[str]] = {}
    kinds: dict[str, str] = {}
    for link in lineage.links:
        job, data = f"job {link.job}", link.dataset.uri
        kinds[job], kinds[data] = "job", "dataset"
        if link.direction == "output":
            upstream.setdefault(data, []).append(job)
        else:
            upstream.setdefault(job, []).append(data)
    for data in (d.uri for d in lineage.updates):
        kinds.setdefault(data, "dataset")
    names = sorted(kinds)
    upstream = {node: sorted(set(ups)) for node, ups in upstream.items()}
    laid = frame(names, upstream)
    at = laid.at
    datasets = {d.uri: d for d in (link.dataset for link in lineage.links)} | {
        d.uri: d for d in lineage.updates
    }
    nodes = []
    for name in names:
        state = "job" if kinds[name] == "job" else freshness(datasets[name], lineage, now).value
        nodes.append(
            {
                "node": name.removeprefix("job ") if kinds[name] == "job" else name,
                "kind": kinds[name],
                "state": state,
                "x": at[name][0],
                "y": at[name][1],
            }
        )
    edges = [
        {"x": at[u][0], "y": at[u][1], "x2": at[n][0], "y2": at[n][1]}
        for n, ups in upstream.items()
        for u in ups
    ]
    domain = ["job", *(f.value for f in Freshness)]
    colours = [_JOB_COLOUR, *(COLOURS[f] for f in Freshness)]
    x, y = laid.x, laid.y
    return {
        "height": laid.height,
        "layer": [
            {
                "data": {"values": edges},
                "mark": {"type": "rule", "color": "#9e9e9e"},
                "encoding": {"x": x, "y": y, "x2": {"field": "x2"}, "y2": {"field": "y2"}},
            },
            {
                "data": {"values": nodes},
                "params": [{"name": "pan", "select": "interval", "bind": "scales"}],
                "mark": {"type": "point", "filled": True, "size": 300},
                "encoding": {
                    "x": x,
                    "y": y,
                    "shape": {
                        "field": "kind",
                        "type": "nominal",
                        "scale": {"domain": ["job", "dataset"], "range": ["square", "circle"]},
                        "legend": None,
                    },
                    "color": {
                        "field": "state",
                        "type": "nominal",
                        "scale": {"domain": domain, "range": colours},
                        "legend": {"title": "", "orient": "bottom"},
                    },
                    "tooltip": [
                        {"field": "node", "type": "nominal"},
                        {"field": "kind", "type": "nominal"},
                        {"field": "state", "type": "nominal"},
                    ],
                },
            },
            {
                "data": {"values": nodes},
                "mark": {"type": "text", "dy": -18, "fontSize": 11},
                "encoding": {"x": x, "y": y, "text": {"field": "node"}},
            },
        ],
        "usermeta": {"embedOptions": {"renderer": "svg"}},
    }
