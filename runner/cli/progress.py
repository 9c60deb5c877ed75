"""Live progress of a run: a redrawn table on a terminal, plain lines when piped."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import TextIO

from runner.cli.output import paint
from runner.durations import format_duration
from runner.engine.engine import Progress
from runner.model import TaskState


@dataclass
class _Row:
    state: TaskState
    attempt: int
    started: float | None
    ended: float | None


class ProgressDisplay:
    """Receives engine progress and shows it; ``close`` leaves the final table."""

    def __init__(self, tasks: list[str], stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty()
        self.rows = {t: _Row(TaskState.PENDING, 0, None, None) for t in tasks}
        self.width = max((len(t) for t in tasks), default=4)
        self._drawn = 0
        self._last_draw = 0.0

    def __call__(self, changes: list[Progress]) -> None:
        """Record the tasks' new states (one engine turn's) and show them."""
        now = time.monotonic()
        lines = []
        for event in changes:
            row = self.rows.setdefault(event.task, _Row(TaskState.PENDING, 0, None, None))
            if event.state is TaskState.RUNNING:
                row.started, row.ended = now, None
            elif event.state.finished or event.state is TaskState.RETRYING:
                row.ended = now
            row.state = event.state
            row.attempt = event.attempt or row.attempt
            if not self.live:
                attempt = f" (attempt {event.attempt})" if event.attempt else ""
                at = event.at  # as strftime("%H:%M:%S") would, in half the time
                stamp = f"{at.hour:02}:{at.minute:02}:{at.second:02}"
                lines.append(f"{stamp} {event.job}.{event.task} {event.state.value}{attempt}\n")
        if not self.live:  # piped: the turn's lines in one write
            self.stream.write("".join(lines))
            self.stream.flush()
        elif now - self._last_draw > 0.05 or any(e.state.finished for e in changes):
            self.draw()

    def draw(self) -> None:
        """Redraw the table in place."""
        now = time.monotonic()
        lines = []
        for name, row in self.rows.items():
            elapsed = ""
            if row.started is not None:
                elapsed = format_duration((row.ended or now) - row.started)
            attempt = f"#{row.attempt}" if row.attempt else ""
            state = paint(row.state.value, self.stream) + " " * (15 - len(row.state.value))
            lines.append(f"  {name.ljust(self.width)}  {state} {attempt:>4}  {elapsed}")
        if self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F")
        self.stream.write("".join(f"\x1b[2K{line}\n" for line in lines))
        self.stream.flush()
        self._drawn = len(lines)
        self._last_draw = now

    def close(self) -> None:
        """Draw the final state once more on a terminal."""
        if self.live:
            self.draw()
