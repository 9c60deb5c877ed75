"""The overhead of `runwatch wrap` (issue 5): `runwatch wrap --job x -- true` against `true`.

    python bench/wrap_bench.py [--runs 41] [--runwatch PATH]
    python bench/wrap_bench.py --against OTHER [--pairs 9] [--runwatch PATH]

The default configuration: a fresh RUNWATCH_HOME (embedded SQLite), no runwatch.yaml,
no RUNWATCH_* or OTEL_* variables, bytecode compiled as a pip install leaves it
(PYTHONDONTWRITEBYTECODE unset). The schema is created by a first, unmeasured wrap;
then `true`, `wrap -- true` and `wrap -- true` with tracing on (OTLP over HTTP to a
loopback collector started here) run interleaved, and the medians are compared.

`runwatch wrap` is run through the installed console script when its main.py hands
`wrap` over before building the argparse parser; otherwise through a script that
does only that hand-over (and the result says so).

``--against OTHER`` compares two builds (each a runwatch console script, e.g. one
next to a checkout of the commit before a change): the overhead of each, 11 interleaved
runs a sample, in ``--pairs`` alternating pairs, with min/median/max and the load average.

The target (80 ms) is for the default configuration, without tracing. With tracing, the
OpenTelemetry SDK and the OTLP exporter are imported and the spans are exported before
exit: that path is priced for the people who turn it on. Recorded figures: bench/README.md,
from bench/run.py.
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_MS = 80.0


class _Collector(BaseHTTPRequestHandler):
    """An OTLP/HTTP endpoint that accepts every batch of spans."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


def wrap_command(runwatch: str | None, workdir: Path) -> tuple[list[str], str]:
    """How to run `runwatch wrap`, and a note on what that is."""
    script = runwatch or str(Path(sys.executable).with_name("runwatch"))
    if Path(script).exists():
        probe = subprocess.run(
            [script, "wrap", "--help"], capture_output=True, text=True, check=False
        )
        if probe.returncode == 0 and "--job" in probe.stdout:
            return [script, "wrap"], f"{script} wrap"
    shim = workdir / "runwatch-wrap"
    shim.write_text(
        f"#!{sys.executable}\nimport sys\n"
        "from runner.cli.commands.wrap import main\nmain(sys.argv[1:])\n"
    )
    shim.chmod(0o755)
    note = "a script handing over to runner.cli.commands.wrap (main.py does not dispatch wrap)"
    return [str(shim)], note


def median_ms(samples: list[float]) -> float:
    """The median of seconds, in milliseconds."""
    return statistics.median(samples) * 1000


def default_env(workdir: Path) -> dict[str, str]:
    """The default configuration: no RUNWATCH_*/OTEL_* variables, a fresh RUNWATCH_HOME,
    bytecode written as a pip install leaves it."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RUNWATCH_", "OTEL_", "TRACEPARENT"))
        and k != "PYTHONDONTWRITEBYTECODE"
    }
    env["RUNWATCH_HOME"] = str(workdir / "home")
    return env


def interleaved(
    cases: dict[str, tuple[list[str], dict[str, str]]], runs: int, workdir: Path
) -> dict[str, list[float]]:
    """Seconds of each case's command, the cases run in turn ``runs`` times after a
    warm-up of three each (schema, page cache, bytecode)."""
    for command, case_env in cases.values():
        for _ in range(3):
            subprocess.run(command, env=case_env, cwd=workdir, check=True)
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, (command, case_env) in cases.items():
            started = time.perf_counter()
            subprocess.run(command, env=case_env, cwd=workdir, check=True)
            samples[name].append(time.perf_counter() - started)
    return samples


def overhead_ms(runs: int = 11, runwatch: str | None = None) -> float:
    """One sample: median of `wrap --job x -- true` minus median of bare `true`, in
    milliseconds, the two run interleaved ``runs`` times each."""
    compileall.compile_dir(REPO / "runner", quiet=1)
    workdir = Path(tempfile.mkdtemp(prefix="wrap-bench-"))
    try:
        wrap, _ = wrap_command(runwatch, workdir)
        env = default_env(workdir)
        cases = {"true": (["true"], env), "wrap": ([*wrap, "--job", "x", "--", "true"], env)}
        samples = interleaved(cases, runs, workdir)
        return median_ms(samples["wrap"]) - median_ms(samples["true"])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def compare(runwatch: str | None, against: str, pairs: int) -> None:
    """Print the overhead of ``runwatch`` and of ``against``, sampled in alternation."""
    samples: dict[str, list[float]] = {against: [], runwatch or "this build": []}
    for _ in range(pairs):
        samples[against].append(overhead_ms(runwatch=against))
        samples[runwatch or "this build"].append(overhead_ms(runwatch=runwatch))
    for name, values in samples.items():
        print(
            f"{name}: overhead min {min(values):.1f}, median {statistics.median(values):.1f}, "
            f"max {max(values):.1f} ms over {pairs} samples"
        )
    print("load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


def main() -> int:
    """Run the benchmark and print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=41)
    parser.add_argument("--runwatch", help="the runwatch console script (default: next to python)")
    parser.add_argument("--against", help="another build's runwatch script to compare with")
    parser.add_argument("--pairs", type=int, default=9)
    args = parser.parse_args()
    if args.against:
        compare(args.runwatch, args.against, args.pairs)
        return 0
    compileall.compile_dir(REPO / "runner", quiet=1)
    workdir = Path(tempfile.mkdtemp(prefix="wrap-bench-"))
    collector = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    try:
        wrap, note = wrap_command(args.runwatch, workdir)
        env = default_env(workdir)
        traced = {
            **env,
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector.server_address[1]}",
        }
        cases = {
            "true": (["true"], env),
            "runwatch wrap -- true": ([*wrap, "--job", "x", "--", "true"], env),
            "... with OTEL_TRACES_EXPORTER=otlp": ([*wrap, "--job", "x", "--", "true"], traced),
            "python -c pass": ([sys.executable, "-c", "pass"], env),
        }
        samples = interleaved(cases, args.runs, workdir)
        base = median_ms(samples["true"])
        print(f"wrap ran as {note}; median of {args.runs} runs each")
        for name in cases:
            value = median_ms(samples[name])
            extra = (
                f"   overhead {value - base:6.1f} ms"
                if name.startswith(("runwatch", "..."))
                else ""
            )
            print(f"  {name:38s} {value:7.1f} ms{extra}")
        overhead = median_ms(samples["runwatch wrap -- true"]) - base
        verdict = "within" if overhead <= TARGET_MS else "OVER"
        print(f"overhead {overhead:.1f} ms: {verdict} the {TARGET_MS:.0f} ms target")
        return 0 if overhead <= TARGET_MS else 1
    finally:
        collector.shutdown()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
