"""Grouping without `serve`: three `runwatch wrap` processes whose jobs fail together
under ``group_by: [severity]`` send one message, after group_wait, before they exit."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

from tests.e2e.test_wrap import _Hook
from tests.runner.wrap.conftest import wrap_env


def test_three_wrapped_jobs_failing_together_send_one_grouped_message(
    tmp_path: Path, home: Path
) -> None:
    hook = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    _Hook.received.clear()
    (tmp_path / "runwatch.yaml").write_text(
        "alerting:\n"
        "  receivers:\n"
        f"    hook: {{webhook: {{url: 'http://127.0.0.1:{hook.server_address[1]}/hook'}}}}\n"
        "  route: {receiver: hook, group_by: [severity], group_wait: 10s}\n"
        "  rules:\n"
        "    - {alert: JobFailed, when: run_failed, severity: error}\n"
    )
    try:
        # The three commands fail together: each waits until all three have started, so
        # their failures land well within one group_wait however slowly the wraps start.
        barrier = tmp_path / "started"
        barrier.mkdir()
        fail = (
            f'touch {barrier}/"$1"; while [ "$(ls {barrier} | wc -l)" -lt 3 ]; do sleep 0.05;'
            " done; exit 1"
        )
        wraps = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "runner",
                    "wrap",
                    "--job",
                    job,
                    "--",
                    "sh",
                    "-c",
                    fail,
                    "sh",
                    job,
                ],
                cwd=tmp_path,
                env=wrap_env(home),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for job in ("extract", "load", "report")
        ]
        outcomes = [w.communicate(timeout=120) for w in wraps]
        codes = [w.returncode for w in wraps]
        errors = [err for _, err in outcomes]
    finally:
        hook.shutdown()
        hook.server_close()
    assert codes == [1, 1, 1], errors
    (message,) = [json.loads(body) for body in _Hook.received]
    jobs = sorted(a["labels"]["job"] for a in message["alerts"])
    assert jobs == ["extract", "load", "report"]
