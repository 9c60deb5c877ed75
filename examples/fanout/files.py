"""The steps of examples/fanout.yaml, one per argument; standard library only."""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path

INBOX = Path("in")
OUTPUT = Path("..") / "output" / "fanout"


def list_files() -> int:
    """Write the CSV names to RUNWATCH_RESULT; exit 3 (the empty branch) when none."""
    names = sorted(p.name for p in INBOX.glob("*.csv"))
    Path(os.environ["RUNWATCH_RESULT"]).write_text(json.dumps(names))
    print(f"{len(names)} files")
    return 0 if names else 3


def process() -> int:
    """Total the amounts of one file (this instance's element)."""
    name = json.loads(os.environ["RUNWATCH_MAP_ITEM"])
    with (INBOX / name).open(newline="") as rows:
        total = sum(float(row["amount"]) for row in csv.DictReader(rows))
    print(f"instance {os.environ['RUNWATCH_MAP_INDEX']}: {name} totals {total:.2f}")
    Path(os.environ["RUNWATCH_RESULT"]).write_text(json.dumps({"file": name, "total": total}))
    return 0


def load() -> int:
    """Write every file's total, in the order of the list, to output/fanout/totals.json."""
    upstream = json.loads(Path(os.environ["RUNWATCH_UPSTREAM_RESULTS"]).read_text())
    OUTPUT.mkdir(parents=True, exist_ok=True)
    (OUTPUT / "totals.json").write_text(json.dumps(upstream["process"], indent=2))
    print(f"loaded {len(upstream['process'])} totals")
    return 0


def notify() -> int:
    """The empty day's branch."""
    print("no files today")
    return 0


def report() -> int:
    """Runs after load or after notify_empty, whichever branch ran."""
    totals = OUTPUT / "totals.json"
    print(totals.read_text() if totals.exists() else "nothing loaded")
    return 0


STEPS = {"list": list_files, "process": process, "load": load, "notify": notify, "report": report}

if __name__ == "__main__":
    sys.exit(STEPS[sys.argv[1]]())
