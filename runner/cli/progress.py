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

    def __call__(self, event: Progress) -> None:
        """Record a task's new state and show it."""
        row = self.rows.setdefault(event.task, _Row(TaskState.PENDING, 0, None, None))
        now = time.monotonic()
        if event.state is TaskState.RUNNING:
            row.started, row.ended = now, None
        elif event.state.finished or event.state is TaskState.RETRYING:
            row.ended = now
        row.state = event.state
        row.attempt = event.attempt or row.attempt
        if self.live:
            if now - self._last_draw > 0.05 or event.state.finished:
                self.draw()
        else:
            attempt = f" (attempt {event.attempt})" if event.attempt else ""
            at = event.at  # as strftime("%H:%M:%S") would, in half the time (two per task)
            stamp = f"{at.hour:02}:{at.minute:02}:{at.second:02}"
            print(
                f"{stamp} {event.job}.{event.task} {event.state.value}{attempt}",
                file=self.stream,
                flush=True,
            )

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
