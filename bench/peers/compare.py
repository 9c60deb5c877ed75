"""runwatch side by side with Dagster, Prefect and Airflow: the same workloads, interleaved,
each run's durable history checked in the tool's own store.

    python bench/peers/compare.py [--repeats 5] [--budget 2700] [--keep]
                                  [--tools runwatch,dagster,prefect,prefect-server,airflow]

Run it with the repository's venv python (runwatch is its `runwatch` console script).
Each peer is installed on first use into its own venv under
~/.cache/runwatch-bench/peers/<tool> (RUNWATCH_BENCH_CACHE moves it; see install.py); a
peer that cannot be installed or set up is reported with the reason and left out.

Workloads, each a whole process as a user runs it (`runwatch run JOB`, `python flow.py`):
  W0  a one-task no-op run;
  W1  1 -> N -> 1 fan-out/fan-in of no-op Python tasks at N = 10 and N = 200: cost per
      extra task = (T(200) - T(10)) / 190, per round;
  W2  200 independent `true` shell commands (runwatch: YAML command tasks; the peers: a
      Python task running subprocess.run(["true"]), as none ships a shell task by default).
Rounds run every workload with every tool in turn (A B C D A B C D ...). After each run,
unmeasured, the tool's store is read back: the run is there, succeeded, with a successful
record of every task (Dagster: the instance's run and event-log storage in a temporary
DAGSTER_HOME; Prefect: its local SQLite API database; Airflow: the SQLite metadata database
written by dag.test(); runwatch: its SQLite store), read again for up to 10 s while
incomplete. `prefect` runs each flow as a plain `python flow.py`, where Prefect serves its
API from the flow's process for that run; `prefect-server` runs the same flows against a
`prefect server start` kept running on loopback (its start-up is not timed). Every run has
a time limit and the whole comparison a budget; rounds stop when it is spent.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from install import PEERS, Peer, install  # noqa: E402 - the sibling module
from stats import Summary, load_average, machine, summarize  # noqa: E402 - bench/stats.py

TOOLS = HERE / "tools"
RUN_TIMEOUT_S = 600
CHECK_WAIT_S = 10
SERVER_START_S = 180
WORKLOADS = (("w0", 1), ("w1", 10), ("w1", 200), ("w2", 200))


def base_env() -> dict[str, str]:
    """This process's environment without venv, runwatch or tracing settings."""
    drop = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONDONTWRITEBYTECODE")
    return {
        k: v
        for k, v in os.environ.items()
        if k not in drop
        and not k.startswith(("RUNWATCH_", "OTEL_", "DAGSTER_", "PREFECT_"))
        and not k.startswith("AIRFLOW")
    }


@dataclass
class Tool:
    """One tool under test: how to set it up, run a workload and check its store."""

    name: str
    version: str
    state: Path
    python: Path
    env: dict[str, str]
    command: Callable[[Tool, str, int], tuple[list[str], dict[str, str]]]
    script: str = ""
    service: subprocess.Popen[bytes] | None = None
    runs: dict[str, int] = field(default_factory=dict)

    def run(self, workload: str, width: int, timeout: float) -> tuple[float | None, str]:
        """Seconds of one whole-process run, or None and why it failed."""
        argv, env = self.command(self, workload, width)
        key = f"{workload}_{width}"
        self.runs[key] = self.runs.get(key, 0) + 1
        log = self.state / f"{key}.log"
        started = time.perf_counter()
        try:
            with log.open("w") as out:
                done = subprocess.run(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                                      cwd=self.state, timeout=timeout, check=False)  # fmt: skip
        except subprocess.TimeoutExpired:
            return None, f"{key} timed out after {timeout:.0f} s (log: {log})"
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            tail = " | ".join(log.read_text().strip().splitlines()[-2:])
            return None, f"{key} exited {done.returncode}: {tail[-300:]} (log: {log})"
        return elapsed, ""

    def check(self, workload: str, width: int) -> dict[str, object]:
        """What the tool's own store holds for the workload's latest run, read again for up
        to CHECK_WAIT_S while it is incomplete (a server may still be writing it)."""
        key = f"{workload}_{width}"
        _, env = self.command(self, workload, width)
        script = TOOLS / f"{self.script or self.name}_work.py"
        argv = [str(self.python), str(script), "check", workload, str(width)]
        deadline = time.monotonic() + CHECK_WAIT_S
        while True:
            done = subprocess.run(
                [*argv, str(self.runs.get(key, 0))],
                env=env,
                cwd=self.state,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            try:
                found = dict(json.loads(done.stdout.strip().splitlines()[-1]))
            except (ValueError, IndexError):
                lines = done.stderr.strip().splitlines() or ["no output"]
                found = {"ok": False, "error": lines[-1]}
            if found.get("ok") or time.monotonic() > deadline:
                return found
            time.sleep(1)


def _runwatch_command(tool: Tool, workload: str, width: int) -> tuple[list[str], dict[str, str]]:
    suffix = "yaml" if workload == "w2" else "py"
    job = f"{workload}_{width}"
    runwatch = str(Path(sys.executable).with_name("runwatch"))
    return [runwatch, "run", job, "--jobs", str(tool.state / "jobs" / f"{job}.{suffix}")], tool.env


def _peer_command(tool: Tool, workload: str, width: int) -> tuple[list[str], dict[str, str]]:
    script = TOOLS / f"{tool.script or tool.name}_work.py"
    return [str(tool.python), str(script), "run", workload, str(width)], tool.env


def _airflow_command(tool: Tool, workload: str, width: int) -> tuple[list[str], dict[str, str]]:
    # dag.test() parses the DAGs folder into the database first: one DAG file per folder.
    dag_id = f"{workload}_{width}"
    folder = tool.state / "dags" / dag_id
    env = {**tool.env, "AIRFLOW__CORE__DAGS_FOLDER": str(folder), "BENCH_AIRFLOW_DAG": dag_id}
    return [str(tool.python), str(folder / "airflow_work.py"), "run", workload, str(width)], env


def runwatch_tool(state: Path) -> Tool:
    """runwatch from this checkout's venv, its store in a fresh RUNWATCH_HOME."""
    subprocess.run([sys.executable, str(TOOLS / "runwatch_work.py"), "setup", str(state)],
                   check=True)  # fmt: skip
    commit = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], cwd=HERE,
                            capture_output=True, text=True, check=False).stdout.strip()  # fmt: skip
    version = f"{metadata.version('runwatch')} ({commit})"
    env = {**base_env(), "RUNWATCH_HOME": str(state / "home")}
    return Tool("runwatch", version, state, Path(sys.executable), env, _runwatch_command)


def start_prefect_server(tool: Tool) -> str:
    """Start `prefect server start` on a free loopback port with the tool's database and
    point the tool at it; return "" once its API answers, or why it did not."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    prefect = str(tool.python.with_name("prefect"))
    log = (tool.state / "server.log").open("w")
    tool.service = subprocess.Popen(
        [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env={**tool.env, "PREFECT_UI_ENABLED": "false"}, cwd=tool.state, stdout=log,
        stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    tool.env["PREFECT_API_URL"] = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if tool.service.poll() is not None:
            return f"`prefect server start` exited {tool.service.returncode} (log: {log.name})"
        try:
            with urllib.request.urlopen(f"{tool.env['PREFECT_API_URL']}/health", timeout=5):
                return ""
        except OSError:
            time.sleep(0.5)
    return f"`prefect server start` did not answer within {SERVER_START_S} s (log: {log.name})"


def stop(tool: Tool) -> None:
    """Stop the tool's server, if it started one."""
    if tool.service is not None and tool.service.poll() is None:
        os.killpg(tool.service.pid, signal.SIGTERM)
        try:
            tool.service.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(tool.service.pid, signal.SIGKILL)
            tool.service.wait(timeout=30)


def peer_tool(peer: Peer, version: str, state: Path) -> Tool:
    """A peer with its store in ``state``: the environment that points it there."""
    env = base_env()
    command = _peer_command
    if peer.name == "dagster":
        (state / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        env["DAGSTER_HOME"] = str(state)
    elif peer.name.startswith("prefect"):
        env.update(
            PREFECT_HOME=str(state / "home"),
            PREFECT_API_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{state / 'prefect.db'}",
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_LOGGING_LEVEL="WARNING",
        )
    else:
        env.update(
            AIRFLOW_HOME=str(state),
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{state / 'airflow.db'}",
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__DAGS_FOLDER=str(state / "dags"),
            AIRFLOW__USAGE_DATA_COLLECTION__ENABLED="False",
        )
        for workload, width in WORKLOADS:
            folder = state / "dags" / f"{workload}_{width}"
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy(TOOLS / "airflow_work.py", folder / "airflow_work.py")
        command = _airflow_command
    return Tool(peer.name, version, state, peer.python, env, command, peer.script)


def prepare(name: str, root: Path) -> tuple[Tool | None, str]:
    """Install (peers), create the store and make one unmeasured W0 run; or say why not."""
    state = root / name
    state.mkdir()
    if name == "runwatch":
        tool = runwatch_tool(state)
    else:
        peer = next(p for p in PEERS if p.name == name)
        version, reason = install(peer)
        if version is None:
            return None, reason
        tool = peer_tool(peer, version, state)
        if name == "prefect-server":
            reason = start_prefect_server(tool)
            if reason:
                stop(tool)
                return None, reason
        if name == "airflow":
            migrate = [str(peer.venv / "bin" / "airflow"), "db", "migrate"]
            done = subprocess.run(migrate, env=tool.env, capture_output=True, text=True,
                                  timeout=900, check=False)  # fmt: skip
            if done.returncode != 0:
                return None, f"`airflow db migrate` exited {done.returncode}: {done.stderr[-300:]}"
    elapsed, reason = tool.run("w0", 1, RUN_TIMEOUT_S)
    found = tool.check("w0", 1) if elapsed is not None else {}
    if elapsed is None or not found.get("ok"):
        stop(tool)
        if elapsed is None:
            return None, f"the warm-up run failed: {reason}"
        return None, f"the warm-up run is not in the store as expected: {found}"
    return tool, ""


@dataclass
class Record:
    """What one tool measured: seconds per workload, failures and history checks."""

    seconds: dict[str, list[float]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    checks: int = 0
    checks_ok: int = 0
    bad_checks: list[str] = field(default_factory=list)


def measure(tools: list[Tool], repeats: int, budget: float) -> tuple[dict[str, Record], int]:
    """Interleaved rounds; returns the records and how many rounds ran."""
    records = {tool.name: Record() for tool in tools}
    deadline = time.monotonic() + budget
    rounds = 0
    for round_ in range(repeats):
        if time.monotonic() > deadline:
            print(f"budget of {budget:.0f} s spent: stopping after {rounds} rounds", flush=True)
            break
        print(f"round {round_ + 1}: load {load_average():.2f}", flush=True)
        for workload, width in WORKLOADS:
            key = f"{workload}_{width}"
            for tool in tools:
                record = records[tool.name]
                if any(f.startswith(key) for f in record.failures):
                    continue
                timeout = max(1.0, min(RUN_TIMEOUT_S, deadline - time.monotonic() + 60))
                elapsed, reason = tool.run(workload, width, timeout)
                if elapsed is None:
                    record.failures.append(reason)
                    print(f"  {tool.name} {reason}", flush=True)
                    continue
                record.seconds.setdefault(key, []).append(elapsed)
                found = tool.check(workload, width)
                record.checks += 1
                if found.get("ok"):
                    record.checks_ok += 1
                else:
                    record.bad_checks.append(f"{key}: {found}")
                print(f"  {tool.name:8} {key:7} {elapsed:7.2f} s  store: "
                      f"{'ok' if found.get('ok') else found}", flush=True)  # fmt: skip
        rounds += 1
    return records, rounds


def per_extra_task_ms(record: Record) -> list[float]:
    """(T(200) - T(10)) / 190 in ms, per round that has both."""
    pairs = zip(record.seconds.get("w1_10", []), record.seconds.get("w1_200", []), strict=False)
    return [(large - small) / 190 * 1000 for small, large in pairs]


def report(tools: list[Tool], records: dict[str, Record], rounds: int, before: float) -> None:
    """Print min / median / max per tool and figure, and a markdown table of the medians."""
    after = load_average()
    print(f"\n{machine()}, load average {before:.2f} → {after:.2f}, {rounds} interleaved rounds")
    rows = []
    for tool in tools:
        record = records[tool.name]
        figures: dict[str, Summary | None] = {}
        for label, samples in (
            ("W0 one-task run, s", record.seconds.get("w0_1", [])),
            ("W1 N=10, s", record.seconds.get("w1_10", [])),
            ("W1 N=200, s", record.seconds.get("w1_200", [])),
            ("W1 per extra task, ms", per_extra_task_ms(record)),
            ("W2 200 `true`, s", record.seconds.get("w2_200", [])),
        ):
            figures[label] = summarize(samples, before) if samples else None
        print(f"{tool.name} {tool.version}: history checks {record.checks_ok}/{record.checks} ok")
        for label, summary in figures.items():
            print(f"  {label:24} {summary.spread() if summary else 'not measured'}")
        for line in record.failures + record.bad_checks:
            print(f"  ! {line}")
        cells = [f"{s.spread()}" if s else "—" for s in figures.values()]
        rows.append(f"| {tool.name} {tool.version} | " + " | ".join(cells)
                    + f" | {record.checks_ok}/{record.checks} |")  # fmt: skip
    print("\n| tool | W0 one-task run, s | W1 N=10, s | W1 N=200, s | W1 per extra task, ms "
          "| W2 200 `true`, s | store checks ok |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))
    print("(each cell min / median / max)")


def main(argv: list[str]) -> int:
    """Install and set up the tools, run the interleaved rounds, print the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--tools", default="runwatch,dagster,prefect,prefect-server,airflow")
    parser.add_argument("--budget", type=float, default=2700, help="seconds for the rounds")
    parser.add_argument("--keep", action="store_true", help="keep the stores (printed)")
    options = parser.parse_args(argv)
    known = ["runwatch", *(p.name for p in PEERS)]
    names = [n.strip() for n in options.tools.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown or options.repeats < 1:
        parser.error(f"--tools: unknown {', '.join(unknown)} (known: {', '.join(known)})"
                     if unknown else "--repeats: must be at least 1")  # fmt: skip
    root = Path(tempfile.mkdtemp(prefix="runwatch-peers-"))
    tools: list[Tool] = []
    try:
        for name in names:
            print(f"setting up {name} …", flush=True)
            tool, reason = prepare(name, root)
            if tool is None:
                print(f"{name}: left out: {reason}", flush=True)
            else:
                print(f"{name} {tool.version}: ready", flush=True)
                tools.append(tool)
        before = load_average()
        records, rounds = measure(tools, options.repeats, options.budget)
        report(tools, records, rounds, before)
    finally:
        for tool in tools:
            stop(tool)
        if options.keep:
            print(f"stores kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
