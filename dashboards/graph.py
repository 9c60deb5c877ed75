"""The run's task graph as a Vega-Lite chart: layered left to right, pan and zoom.

A task's column is the length of the longest path to it from a task with no upstream;
within a column, tasks sit near the mean row of their upstream tasks. Nodes and labels
shrink as the graph grows (past ``LABELLED`` tasks only failed ones keep a label; the
tooltip names every task), and the path to a failure is drawn in red.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter

from dashboards.charts import TASK_COLOURS, Spec
from runner.model import TaskState
from runner.store.dashboard_reads.results import TaskRow

LABELLED = 120
"""Up to this many tasks every node is labelled."""
BAD = (TaskState.FAILED, TaskState.TIMED_OUT)
_NORMAL_EDGE, _FAILED_EDGE = "#9e9e9e", "#c62828"


def columns(tasks: Sequence[str], upstream: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """Each task's column: 0 for a task with no upstream, else one past its upstreams'."""
    known = set(tasks)
    edges = {t: [u for u in upstream.get(t, ()) if u in known] for t in tasks}
    try:
        order = list(TopologicalSorter(edges).static_order())
    except CycleError:  # never stored for a valid job; draw it flat rather than fail
        return dict.fromkeys(tasks, 0)
    column: dict[str, int] = {}
    for task in order:
        column[task] = max((column[u] + 1 for u in edges[task]), default=0)
    return column


def positions(
    tasks: Sequence[str], upstream: Mapping[str, Sequence[str]]
) -> dict[str, tuple[int, float]]:
    """(column, row) of each task; rows ordered by their upstreams' mean row, then name."""
    column = columns(tasks, upstream)
    row: dict[str, float] = {}
    for col in range(max(column.values(), default=-1) + 1):
        here = [t for t in tasks if column[t] == col]

        def near(task: str) -> tuple[float, str]:
            ups = [row[u] for u in upstream.get(task, ()) if u in row]
            return (sum(ups) / len(ups) if ups else 0.0, task)

        for index, task in enumerate(sorted(here, key=near)):
            row[task] = float(index)
    return {t: (column[t], row[t]) for t in tasks}


@dataclass(frozen=True)
class Frame:
    """A layered graph laid out for Vega-Lite: each node's (x, y), every column centred on
    the middle row, and the x/y encodings and height that fit it, with half a column and
    most of a row of margin so no node or label is cut at the edge."""

    at: dict[str, tuple[int, float]]
    tallest: int
    x: Spec
    y: Spec
    height: int


def frame(names: Sequence[str], upstream: Mapping[str, Sequence[str]]) -> Frame:
    """Lay out ``names`` left to right by ``positions``, centred per column."""
    at = positions(names, upstream)
    per_column = Counter(col for col, _ in at.values())
    tallest = max(per_column.values(), default=1)
    half = (tallest - 1) / 2
    return Frame(
        at={n: (col, row - (per_column[col] - 1) / 2) for n, (col, row) in at.items()},
        tallest=tallest,
        x=_position("x", [-0.5, max(per_column, default=0) + 0.5]),
        y=_position("y", [-half - 0.8, half + 0.8]),
        height=max(180, min(900, 70 * tallest)),
    )


def failed_path(tasks: Sequence[TaskRow], upstream: Mapping[str, Sequence[str]]) -> set[str]:
    """Failed tasks, every task upstream of them, and the tasks their failure stopped."""
    state = {t.task: t.state for t in tasks}
    path = {t for t, s in state.items() if s in BAD}
    stack = list(path)
    while stack:
        for u in upstream.get(stack.pop(), ()):
            if u in state and u not in path:
                path.add(u)
                stack.append(u)
    return path | {t for t, s in state.items() if s is TaskState.UPSTREAM_FAILED}


def graph_chart(tasks: Sequence[TaskRow], upstream: Mapping[str, Sequence[str]]) -> Spec:
    """Nodes coloured by state, edges grey (red on the failed path), pan and zoom."""
    names = [t.task for t in tasks]
    laid = frame(names, upstream)
    at, x, y = laid.at, laid.x, laid.y
    path = failed_path(tasks, upstream)
    labelled = len(tasks) <= LABELLED
    nodes = [
        {
            "task": t.task,
            "state": t.state.value,
            "attempts": t.attempts,
            "x": at[t.task][0],
            "y": at[t.task][1],
            "label": t.task if labelled or t.state in BAD else "",
        }
        for t in tasks
    ]
    edges = [
        {
            "x": at[u][0],
            "y": at[u][1],
            "x2": at[t][0],
            "y2": at[t][1],
            "failed": t in path and u in path,
        }
        for t in names
        for u in upstream.get(t, ())
        if u in at
    ]
    size = _node_size(laid.tallest, len(tasks))
    font = 12 if len(tasks) <= 30 else 10
    states = [s for s in TASK_COLOURS if any(t.state is s for t in tasks)]
    return {
        "height": laid.height,
        "layer": [
            {
                "data": {"values": edges},
                "mark": {"type": "rule"},
                "encoding": {
                    "x": x,
                    "y": y,
                    "x2": {"field": "x2"},
                    "y2": {"field": "y2"},
                    "color": {
                        "field": "failed",
                        "type": "nominal",
                        "scale": {"domain": [False, True], "range": [_NORMAL_EDGE, _FAILED_EDGE]},
                        "legend": None,
                    },
                    "strokeWidth": {
                        "field": "failed",
                        "type": "nominal",
                        "scale": {"domain": [False, True], "range": [1, 2.5]},
                        "legend": None,
                    },
                },
            },
            {
                "data": {"values": nodes},
                "params": [{"name": "pan", "select": "interval", "bind": "scales"}],
                "mark": {"type": "point", "shape": "square", "filled": True, "strokeWidth": 2},
                "encoding": {
                    "x": x,
                    "y": y,
                    "size": {"value": size},
                    "fill": _by_state(states, 0, {"title": "state", "orient": "bottom"}),
                    "stroke": _by_state(states, 1, None),
                    "tooltip": [
                        {"field": "task", "type": "nominal"},
                        {"field": "state", "type": "nominal"},
                        {"field": "attempts", "type": "quantitative"},
                    ],
                },
            },
            {
                "data": {"values": nodes},
                "mark": {"type": "text", "dy": -(size**0.5) / 2 - 8, "fontSize": font},
                "encoding": {"x": x, "y": y, "text": {"field": "label"}},
            },
        ],
        "usermeta": {"embedOptions": {"renderer": "svg"}},
    }


def _by_state(states: Sequence[TaskState], part: int, legend: Spec | None) -> Spec:
    """Colour by task state: ``part`` 0 is the fill of TASK_COLOURS, 1 the border."""
    return {
        "field": "state",
        "type": "nominal",
        "scale": {
            "domain": [s.value for s in states],
            "range": [TASK_COLOURS[s][part] for s in states],
        },
        "legend": legend,
    }


def _position(field: str, domain: list[float]) -> Spec:
    return {"field": field, "type": "quantitative", "axis": None, "scale": {"domain": domain}}


def _node_size(tallest: int, tasks: int) -> int:
    """Square pixels of a node: large for a handful of tasks, a dot for hundreds."""
    if tasks <= 30 and tallest <= 8:
        return 400
    return max(30, min(400, int(20_000 / max(tallest, 1))))
