"""Install each peer tool into its own venv under the bench cache folder."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

CACHE = (
    Path(os.environ.get("RUNWATCH_BENCH_CACHE", Path.home() / ".cache" / "runwatch-bench"))
    / "peers"
)
INSTALL_TIMEOUT_S = 1500


@dataclass(frozen=True)
class Peer:
    """A peer tool: its name, the requirement to install, its distribution's name, and the
    workload script (tools/<script>_work.py) and venv it shares with another setup of it."""

    name: str
    requirement: str
    distribution: str
    script: str

    @property
    def venv(self) -> Path:
        """The peer's own virtual environment."""
        return CACHE / self.script

    @property
    def python(self) -> Path:
        """The peer venv's interpreter."""
        return self.venv / "bin" / "python"


PEERS = (
    Peer("dagster", "dagster==1.13.*", "dagster", "dagster"),
    Peer("prefect", "prefect==3.9.*", "prefect", "prefect"),
    # The same Prefect against a `prefect server start` kept running on loopback.
    Peer("prefect-server", "prefect==3.9.*", "prefect", "prefect"),
    Peer("airflow", "apache-airflow==3.3.*", "apache-airflow", "airflow"),
)


def installed_version(peer: Peer) -> str | None:
    """The installed version of the peer, or None when its venv lacks it."""
    if not peer.python.exists():
        return None
    probe = subprocess.run(
        [
            str(peer.python),
            "-c",
            f"import importlib.metadata as m; print(m.version({peer.distribution!r}))",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return probe.stdout.strip() if probe.returncode == 0 else None


def install(peer: Peer) -> tuple[str | None, str]:
    """Create the venv and install the peer; return (version, reason when it failed)."""
    version = installed_version(peer)
    if version:
        return version, ""
    peer.venv.parent.mkdir(parents=True, exist_ok=True)
    log = peer.venv.parent / f"{peer.script}-install.log"
    started = time.monotonic()
    steps = (
        [sys.executable, "-m", "venv", "--clear", str(peer.venv)],
        [str(peer.python), "-m", "pip", "install", "-q", "--upgrade", "pip"],
        [str(peer.python), "-m", "pip", "install", "-q", peer.requirement],
    )
    with log.open("w") as out:
        for step in steps:
            remaining = INSTALL_TIMEOUT_S - (time.monotonic() - started)
            try:
                done = subprocess.run(
                    step,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=max(remaining, 1),
                    check=False,
                )
            except subprocess.TimeoutExpired:
                return None, f"install timed out after {INSTALL_TIMEOUT_S} s (log: {log})"
            if done.returncode != 0:
                tail = log.read_text().strip().splitlines()[-3:]
                return (
                    None,
                    f"`{' '.join(step[2:])}` exited {done.returncode}: "
                    f"{' | '.join(tail)} (log: {log})",
                )
    version = installed_version(peer)
    return (
        (version, "")
        if version
        else (None, f"{peer.distribution} is not importable after install (log: {log})")
    )


def main() -> int:
    """Install every peer (or those named on the command line) and print their versions."""
    wanted = set(sys.argv[1:]) or {peer.name for peer in PEERS}
    for peer in PEERS:
        if peer.name in wanted:
            version, reason = install(peer)
            print(f"{peer.name}: {version or 'NOT INSTALLED: ' + reason}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
