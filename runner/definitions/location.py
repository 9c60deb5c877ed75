"""Where a definition value came from (file, line, job, task, key), for error messages."""

from __future__ import annotations

from dataclasses import dataclass, replace

from runner.errors import DefinitionError


@dataclass(frozen=True)
class Location:
    """A place in a definition; ``str()`` gives ``file:line: job 'j', task 't', key 'k'``."""

    file: str
    line: int | None = None
    job: str | None = None
    task: str | None = None
    key: str | None = None

    def __str__(self) -> str:
        head = self.file if self.line is None else f"{self.file}:{self.line}"
        parts = []
        if self.job is not None:
            parts.append(f"job {self.job!r}")
        if self.task is not None:
            parts.append(f"task {self.task!r}")
        if self.key is not None:
            parts.append(f"key {self.key!r}")
        return f"{head}: {', '.join(parts)}" if parts else head

    def error(self, message: str) -> DefinitionError:
        """A DefinitionError whose message starts with this location."""
        return DefinitionError(f"{self}: {message}")

    def at(self, key: str, line: int | None = None) -> Location:
        """The location of ``key`` below this one (dotted under an existing key)."""
        full = key if self.key is None else f"{self.key}.{key}"
        return replace(self, key=full, line=self.line if line is None else line)

    def in_job(self, job: str, line: int | None = None) -> Location:
        """The location of a job (clearing any task and key)."""
        return Location(self.file, self.line if line is None else line, job)

    def in_task(self, task: str, line: int | None = None) -> Location:
        """The location of a task of this job (clearing any key)."""
        return Location(self.file, self.line if line is None else line, self.job, task)
