"""Starting a keeper process (runner.executors.local.keeper_process) and its socket.

``runwatch run`` starts its keeper before its own imports (``start_early``), so that the
keeper's start-up runs beside them instead of delaying the run's first command; the
first client of the process (runner.executors.local.keeper) takes that keeper, any other
starts its own. This module is imported first on that path: it imports only what the
start needs.
"""

from __future__ import annotations

import os
import socket
import sys
import threading

import runner
from runner.processes import KEEPER_MODULE

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (imported first)
if TYPE_CHECKING:
    import subprocess

MESSAGE_BYTES = 256 * 1024
"""The largest message either side sends (a spawn request carries the whole environment)."""
_PYTHON_FLAGS = ("-S", "-P")
"""The keeper imports only the standard library and runwatch: no ``site`` (its path set-up
and ``.pth`` files are much of a bare interpreter's start), and not the current folder
first on its path (a job's folder may hold modules of the same names)."""

Launched = tuple[socket.socket, "subprocess.Popen[bytes]"]
"""This side of a keeper's socket, and the keeper process."""


class KeeperLostError(RuntimeError):
    """The keeper process died, or could not be started or reached."""


def launch() -> Launched:
    """A new keeper process and this side of its socket; KeeperLostError if it cannot start."""
    import subprocess

    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    for sock in (ours, theirs):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * MESSAGE_BYTES)
    try:
        process = subprocess.Popen(
            [sys.executable, *_PYTHON_FLAGS, "-m", KEEPER_MODULE, str(theirs.fileno())],
            env=_environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=[theirs.fileno()],
            start_new_session=True,  # not stopped by the terminal's signals to serve
        )
    except OSError as exc:
        ours.close()
        raise KeeperLostError(f"cannot start the keeper process: {exc}") from exc
    finally:
        theirs.close()
    return ours, process


def _environment() -> dict[str, str]:
    """This process's environment, with the folder runwatch is imported from as the
    keeper's only path beyond the standard library. (Commands get the environment of
    their request, not the keeper's.)"""
    home = os.path.dirname(os.path.dirname(os.path.abspath(runner.__file__)))
    return {**os.environ, "PYTHONPATH": home}


class _Early:
    """The keeper started early in this process, until a client takes it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.launched: Launched | None = None


_early = _Early()


def start_early() -> None:
    """Start now the keeper that this process's first client will use. If it cannot
    start, that client tries again (and reports it) at its first command."""
    with _early.lock:
        if _early.launched is None:
            try:
                _early.launched = launch()
            except KeeperLostError:
                return


def take_early() -> Launched | None:
    """The keeper started early, if there is one and it is alive; taken at most once."""
    with _early.lock:
        launched, _early.launched = _early.launched, None
    if launched is not None and launched[1].poll() is not None:
        launched[0].close()
        return None
    return launched


def _forget_in_child() -> None:
    """A forked child (a Python worker) must not hold the early keeper's socket open."""
    global _early
    launched, _early = _early.launched, _Early()
    if launched is not None:
        os.close(launched[0].detach())


os.register_at_fork(after_in_child=_forget_in_child)
