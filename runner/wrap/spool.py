"""The spool: results of wrapped runs that could not reach the store (or the server) yet.

One file per report, ``$RUNWATCH_HOME/spool/<report id>.json``, written to a hidden
temporary name and renamed into place, so a reader never sees half a report. Replay
records each report (``runner.wrap.recorder.record`` and the ping client both bring the
store in line with a report rather than append to it) and only then deletes its file:
a replay killed at any point leaves the file, and recording it again changes nothing,
so every report is counted exactly once.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable
from contextlib import suppress

from runner.filemodes import FILE_MODE, private_folder
from runner.wrap.report import Report, report_from_json

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    from runner.store.lean_connection import Connection

TARGET_STORE = "store"
"""Reports for the database; a report for a ping server carries the server's URL."""


class ReplayResult:
    """What a replay did: reports ``recorded`` and ``left`` waiting; ``error`` is why it
    stopped early, ``problems`` names files it could not read (moved to ``spool/bad``)."""

    def __init__(self) -> None:
        self.recorded = 0
        self.left = 0
        self.error: str | None = None
        self.problems: list[str] = []


class Spool:
    """The spool folder of one runwatch home."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def append(self, report: Report, *, target: str = TARGET_STORE) -> str:
        """Write ``report`` as one new file, atomically; its path. OSError when it cannot."""
        private_folder(self.folder)
        data = json.dumps({"target": target, "report": report.to_json()}).encode()
        path = os.path.join(self.folder, f"{report.id}.json")
        temporary = os.path.join(self.folder, f".{report.id}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temporary, path)
        return path

    def pending(self) -> list[str]:
        """The paths of the reports waiting, oldest first."""
        try:
            names = os.listdir(self.folder)
        except FileNotFoundError:
            return []
        return [os.path.join(self.folder, n) for n in sorted(names) if n.endswith(".json")]

    def replay(
        self,
        deliver: Callable[[Report], object],
        *,
        target: str = TARGET_STORE,
        limit: int | None = None,
    ) -> ReplayResult:
        """Deliver the waiting reports for ``target``, oldest first, deleting each once
        delivered; stop at the first that cannot be (the store is still away).

        Only one process replays a spool at a time; another finds it busy and returns.
        """
        result = ReplayResult()
        paths = self.pending()
        if not paths:
            return result
        lock = self._lock()
        if lock is None:
            result.left = len(paths)
            return result
        try:
            for path in self.pending():
                if result.error is not None or (limit is not None and result.recorded >= limit):
                    result.left += 1
                else:
                    self._replay_one(path, deliver, target, result)
        finally:
            os.close(lock)
        return result

    def _replay_one(
        self,
        path: str,
        deliver: Callable[[Report], object],
        target: str,
        result: ReplayResult,
    ) -> None:
        try:
            with open(path, "rb") as file:
                entry = json.loads(file.read())
            report = report_from_json(entry["report"])
            entry_target = entry["target"]
        except FileNotFoundError:
            return  # replayed by another process since we listed the folder
        except (OSError, ValueError, KeyError, TypeError) as exc:
            result.problems.append(self._set_aside(path, exc))
            return
        if entry_target != target:
            result.left += 1
            return
        try:
            deliver(report)
        except Exception as exc:
            if getattr(exc, "permanent", False):  # refused for good: must not block the rest
                result.problems.append(self._reject(path, exc))
                return
            result.error = f"{type(exc).__name__}: {exc}"
            result.left += 1
            return
        # Gone already: another replayer recorded it too, which changed nothing.
        with suppress(FileNotFoundError):
            os.unlink(path)
        result.recorded += 1

    def _lock(self) -> int | None:
        fd = os.open(
            os.path.join(self.folder, ".replay.lock"),
            os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
            FILE_MODE,
        )
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    def _reject(self, path: str, exc: BaseException) -> str:
        """Move a report the destination refuses for good to ``rejected/``, beside a
        ``.reason`` file saying why, so it cannot block the reports behind it."""
        folder = rejected_folder(self.folder)
        private_folder(folder)
        name = os.path.basename(path)
        reason = os.path.join(folder, f"{name[: -len('.json')]}.reason")
        fd = os.open(reason, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(f"{type(exc).__name__}: {exc}\n")
        os.replace(path, os.path.join(folder, name))
        return f"spool file {name} refused for good ({exc}): moved to {folder}"

    def _set_aside(self, path: str, exc: BaseException) -> str:
        """Move an unreadable report out of the way, where it cannot block the spool."""
        bad = os.path.join(self.folder, "bad")
        private_folder(bad)
        os.replace(path, os.path.join(bad, os.path.basename(path)))
        return f"spool file {path} cannot be read ({exc}): moved to {bad}"


def rejected_folder(spool_dir: str) -> str:
    """Where the reports refused for good wait for a person (``spool/rejected``)."""
    return os.path.join(spool_dir, "rejected")


def rejected_count(spool_dir: str) -> int:
    """How many spooled reports were refused for good and moved aside."""
    try:
        names = os.listdir(rejected_folder(spool_dir))
    except (FileNotFoundError, NotADirectoryError):
        return 0
    return sum(1 for name in names if name.endswith(".json"))


def replay_into_store(
    spool_dir: str, db: Connection, *, log_dir: str | None = None, limit: int | None = None
) -> ReplayResult:
    """Record the spooled reports meant for the store (`runwatch serve` calls this)."""
    from runner.wrap.recorder import record

    return Spool(spool_dir).replay(lambda report: record(db, report, log_dir=log_dir), limit=limit)


def spool_replayer(spool_dir: str, db: Connection) -> Callable[[object], None]:
    """A `runwatch serve` duty: replay the spool into the store, logging what it did."""
    import logging

    logger = logging.getLogger(__name__)

    def replay(_now: object) -> None:
        result = replay_into_store(spool_dir, db)
        for problem in result.problems:
            logger.warning("%s", problem)
        if result.recorded:
            logger.info("recorded %d spooled results of wrapped runs", result.recorded)
        if result.error is not None:
            logger.warning("%d spooled results still wait: %s", result.left, result.error)

    return replay
