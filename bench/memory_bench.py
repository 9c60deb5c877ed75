"""Peak RSS of the main process for a 10,000-task run (issue 15: ≤ 150 MiB).

    python bench/memory_bench.py [--tasks 10000] [--kind cli|python|readme|inprocess|command]
                                 [--repeats 3] [--top 0]

Each repeat is a fresh interpreter that executes one run of a 1 -> N-2 -> 1 fan-out/fan-in
in a fresh SQLite store. ``cli`` is the whole ``runwatch run`` of such a YAML job (Python
tasks ``gc:enable`` in worker processes, output piped), its peak taken from ``wait4``; the
others drive the engine directly (``runner_bench.fan_job``'s kinds: Python tasks in worker
processes, README-style ``@task`` ones there too, in-process Python tasks, or ``true``
commands) with a progress callback, and report their own peak resident
set (VmHWM of /proc/self/status). ``--top N`` prints the N biggest allocation sites still
held at the end of an engine run (tracemalloc; slower).
"""

from __future__ import annotations

import argparse
import os
import queue
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from runner_bench import KINDS, fan_job  # the sibling module: run this file as a script

from runner.clock import utcnow
from runner.engine.engine import Engine, Progress
from runner.engine.executor import Message
from runner.executors.local.executor import LocalExecutor
from runner.model import Trigger
from runner.store.store import Store


def peak_rss_mib() -> float:
    """This process's peak resident set, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def one_run(count: int, kind: str, top: int) -> None:
    """Execute one run here and print the peak RSS in MiB (the child's side)."""
    if top:
        import tracemalloc

        tracemalloc.start(8)
    job = fan_job(count - 2, kind)
    seen = [0]

    def progress(changes: list[Progress]) -> None:
        seen[0] += len(changes)

    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{tmp}/bench.db")
        messages: queue.SimpleQueue[Message] = queue.SimpleQueue()
        engine = Engine(
            store, LocalExecutor(messages), messages, log_dir=Path(tmp) / "logs", progress=progress
        )
        now = utcnow()
        store.sync_jobs([job], now)
        run = store.create_run(job, now, Trigger.MANUAL, now)
        assert run is not None
        final = engine.execute(job, run)
        assert final.state.value == "success", final
        if top:
            snapshot = tracemalloc.take_snapshot()
            for stat in snapshot.statistics("traceback")[:top]:
                print(f"# {stat.size / 2**20:.1f} MiB in {stat.count} blocks", file=sys.stderr)
                for line in stat.traceback.format()[-6:]:
                    print(f"#   {line}", file=sys.stderr)
        engine.close()
        store.close()
    print(f"{peak_rss_mib():.1f}")


def cli_peak_mib(count: int) -> float:
    """Peak RSS of ``runwatch run`` of a 1 -> count - 2 -> 1 YAML job (MiB)."""
    with tempfile.TemporaryDirectory() as tmp:
        lines = ["jobs:", "  wide:", "    tasks:", "      first: {python: 'gc:enable'}"]
        middle = [f"t{i}" for i in range(count - 2)]
        lines += [f"      {m}: {{python: 'gc:enable', after: [first]}}" for m in middle]
        lines.append(f"      last: {{python: 'gc:enable', after: [{', '.join(middle)}]}}")
        jobs = Path(tmp) / "jobs.yaml"
        jobs.write_text("\n".join(lines) + "\n")
        env = {**os.environ, "RUNWATCH_HOME": tmp}
        cmd = [sys.executable, "-m", "runner", "run", "wide", "--jobs", str(jobs)]
        with subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL) as child:
            _, status, usage = os.wait4(child.pid, 0)
            child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            raise RuntimeError(f"runwatch run exited {child.returncode}")
    return usage.ru_maxrss / 1024


def main() -> None:
    """Run the repeats in fresh interpreters and print min/median/max."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--kind", choices=("cli", *KINDS), default="cli")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--top", type=int, default=0)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        one_run(args.tasks, args.kind, args.top)
        return
    print(f"nproc {os.cpu_count()}, load average at start {os.getloadavg()[0]:.2f}")
    peaks = []
    for _ in range(args.repeats):
        if args.kind == "cli":
            peaks.append(cli_peak_mib(args.tasks))
            continue
        child = [sys.executable, __file__, "--child", f"--tasks={args.tasks}"]
        child += [f"--kind={args.kind}", f"--top={args.top}"]
        done = subprocess.run(child, check=True, capture_output=True, text=True)
        sys.stderr.write(done.stderr)
        peaks.append(float(done.stdout.split()[-1]))
    print(
        f"{args.tasks} tasks ({args.kind}): peak RSS {min(peaks):.1f} / "
        f"{statistics.median(peaks):.1f} / {max(peaks):.1f} MiB (min/median/max), "
        f"load {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
