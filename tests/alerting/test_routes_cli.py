"""`runwatch alerts routes test|show` and `runwatch check` on Alertmanager-style routes,
as child processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.e2e.cli import clean_env

CONFIG = """\
jobs: [jobs.yaml]
alerting:
  receivers:
    team: {log: {}}
    oncall: {log: {}}
    night: {log: {}}
  time_intervals:
    - name: nights
      time_intervals: [{times: [{start_time: "22:00", end_time: "24:00"}]}]
  route:
    receiver: team
    group_by: ['...']
    routes:
      - receiver: oncall
        matchers: ['{severity="critical", env!="dev"}']
        continue: true
      - receiver: night
        match_re: {team: "data|ml"}
        mute_time_intervals: [nights]
"""
JOBS = 'jobs:\n  etl:\n    tasks:\n      one: {command: ["true"]}\n'


def _runwatch(tmp_path: Path, *argv: str, config: str = CONFIG) -> subprocess.CompletedProcess[str]:
    (tmp_path / "runwatch.yaml").write_text(config)
    (tmp_path / "jobs.yaml").write_text(JOBS)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "runner.cli.main",
            *argv,
            "--config",
            str(tmp_path / "runwatch.yaml"),
        ],
        capture_output=True,
        text=True,
        env=clean_env(tmp_path / "home"),
        cwd=tmp_path,
        timeout=60,
        check=False,
    )


def test_routes_test_prints_each_receiver_on_its_own_line_in_alertmanager_order(
    tmp_path: Path,
) -> None:
    done = _runwatch(tmp_path, "alerts", "routes", "test", "severity=critical", 'team="ml"')
    assert (done.returncode, done.stdout, done.stderr) == (0, "oncall\nnight\n", "")
    done = _runwatch(tmp_path, "alerts", "routes", "test", "severity=critical", "env=dev")
    assert done.stdout == "team\n"


def test_routes_show_and_test_tree_draw_the_route_tree(tmp_path: Path) -> None:
    tree = (
        "Routing tree:\n"
        ".\n"
        "└── default-route  receiver: team\n"
        '    ├── {severity="critical",env!="dev"}  continue: true  receiver: oncall\n'
        '    └── {team=~"data|ml"}  receiver: night  mute_time_intervals: nights\n'
    )
    assert _runwatch(tmp_path, "alerts", "routes", "show").stdout == tree
    assert _runwatch(tmp_path, "alerts", "routes", "test", "--tree").stdout == tree


def test_routes_test_rejects_a_label_that_is_not_label_equals_value(tmp_path: Path) -> None:
    done = _runwatch(tmp_path, "alerts", "routes", "test", "team=~ml")
    assert done.returncode == 2
    assert "label 'team=~ml': expected label=value, not =~" in done.stderr
    done = _runwatch(tmp_path, "alerts", "routes", "test", 'team="ml')
    assert done.returncode == 2
    assert "label 'team=\"ml': bad matcher" in done.stderr
    assert "Traceback" not in done.stderr


def test_check_accepts_alertmanager_routes_and_quotes_a_bad_matcher_with_file_and_key(
    tmp_path: Path,
) -> None:
    assert _runwatch(tmp_path, "check").returncode == 0
    bad = CONFIG.replace('env!="dev"}', 'env!="dev}')
    done = _runwatch(tmp_path, "check", config=bad)
    assert done.returncode == 2
    assert (
        f"{tmp_path / 'runwatch.yaml'}: alerting.route.routes[0].matchers[0]: "
        "in '{severity=\"critical\", env!=\"dev}': bad matcher 'env!=\"dev': the value '\"dev' "
        "lacks its closing double quote"
    ) in done.stderr
    assert "Traceback" not in done.stderr
