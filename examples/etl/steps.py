"""An offline ETL: extract orders from a CSV, validate, aggregate, load into SQLite, report.

Each step is a plain function (used by the Python job in ../etl_job.py, which passes
results between tasks) and a command (used by the YAML job in ../etl.yaml, where steps
hand over files): ``python3 steps.py extract``. Only the standard library is used.

The load step is deliberately flaky: its first attempt of every run fails with a
simulated transient error, and the retry succeeds — as a warehouse connection would.
"""

from __future__ import annotations

import csv
import os
import sqlite3
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("ETL_DATA", HERE / "data"))
OUTPUT = Path(os.environ.get("ETL_OUTPUT", HERE.parent / "output"))
COLUMNS = ["order_id", "ordered_on", "country", "amount_eur", "status"]


def _run_tag() -> str:
    return os.environ.get("RUNWATCH_RUN_ID", "manual")


def _staging() -> Path:
    path = OUTPUT / "staging" / _run_tag()
    path.mkdir(parents=True, exist_ok=True)
    return path


def extract() -> dict[str, Any]:
    """Copy the source CSV into this run's staging folder."""
    source = DATA / "orders.csv"
    target = _staging() / "orders.csv"
    target.write_bytes(source.read_bytes())
    with target.open(newline="") as f:
        rows = sum(1 for _ in csv.DictReader(f))
    print(f"extracted {rows} orders from {source.name}")
    return {"path": str(target), "rows": rows}


def validate(extracted: dict[str, Any] | None = None) -> dict[str, Any]:
    """Keep well-formed paid orders; reject negative amounts; fail on a wrong header."""
    path = Path(extracted["path"]) if extracted else _staging() / "orders.csv"
    valid, rejected = [], 0
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != COLUMNS:
            raise ValueError(f"{path.name}: expected columns {COLUMNS}, got {reader.fieldnames}")
        for row in reader:
            if float(row["amount_eur"]) < 0:
                rejected += 1
                print(f"rejected {row['order_id']}: negative amount", file=sys.stderr)
                continue
            valid.append(row)
    target = path.with_name("valid.csv")
    with target.open("w", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS)
        writer.writeheader()
        writer.writerows(valid)
    print(f"{len(valid)} valid, {rejected} rejected")
    return {"path": str(target), "valid": len(valid), "rejected": rejected}


def transform(validated: dict[str, Any] | None = None) -> dict[str, Any]:
    """Revenue and order count per day and country, paid orders only."""
    path = Path(validated["path"]) if validated else _staging() / "valid.csv"
    revenue: dict[tuple[str, str], float] = defaultdict(float)
    orders: dict[tuple[str, str], int] = defaultdict(int)
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            if row["status"] != "paid":
                continue
            key = (row["ordered_on"], row["country"])
            revenue[key] += float(row["amount_eur"])
            orders[key] += 1
    target = path.with_name("daily.csv")
    with target.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["day", "country", "orders", "revenue_eur"])
        for key in sorted(revenue):
            writer.writerow([*key, orders[key], f"{revenue[key]:.2f}"])
    print(f"aggregated into {len(revenue)} day/country rows")
    return {"path": str(target), "rows": len(revenue)}


def load(transformed: dict[str, Any] | None = None) -> dict[str, Any]:
    """Upsert the daily rows into the warehouse (SQLite); attempt 1 fails on purpose."""
    if os.environ.get("RUNWATCH_ATTEMPT", "1") == "1":
        raise ConnectionError("warehouse connection reset by peer (simulated transient error)")
    path = Path(transformed["path"]) if transformed else _staging() / "daily.csv"
    with path.open(newline="") as f:
        rows = [
            (r["day"], r["country"], int(r["orders"]), float(r["revenue_eur"]))
            for r in csv.DictReader(f)
        ]
    OUTPUT.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(OUTPUT / "warehouse.db") as db:
        db.execute(
            "CREATE TABLE IF NOT EXISTS daily_revenue (day TEXT, country TEXT, orders INTEGER, "
            "revenue_eur REAL, PRIMARY KEY (day, country))"
        )
        db.executemany(
            "INSERT INTO daily_revenue VALUES (?, ?, ?, ?) ON CONFLICT (day, country) "
            "DO UPDATE SET orders = excluded.orders, revenue_eur = excluded.revenue_eur",
            rows,
        )
    print(f"loaded {len(rows)} rows into warehouse.db")
    return {"loaded": len(rows)}


def report(loaded: dict[str, Any] | None = None) -> dict[str, Any]:
    """Print revenue per country from the warehouse."""
    with sqlite3.connect(OUTPUT / "warehouse.db") as db:
        per_country = db.execute(
            "SELECT country, SUM(orders), ROUND(SUM(revenue_eur), 2) FROM daily_revenue "
            "GROUP BY country ORDER BY 3 DESC"
        ).fetchall()
    print(f"{'country':8} {'orders':>7} {'revenue EUR':>12}")
    for country, n, revenue in per_country:
        print(f"{country:8} {n:>7} {revenue:>12.2f}")
    total = round(sum(r for _, _, r in per_country), 2)
    print(f"total revenue: {total:.2f} EUR")
    return {"countries": len(per_country), "revenue_eur": total}


STEPS = {f.__name__: f for f in (extract, validate, transform, load, report)}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in STEPS:
        sys.exit(f"usage: steps.py {{{','.join(STEPS)}}}")
    STEPS[sys.argv[1]]()
