"""`runwatch wrap --output URI --input URI`: a wrapped cron job declares its datasets."""

from __future__ import annotations

from pathlib import Path

from runner.dataset_names import Dataset
from runner.store.datasets import dataset_states
from runner.store.store import Store
from tests.runner.wrap.conftest import Wrap

ORDERS = Dataset("postgres://warehouse:5432", "analytics.public.orders")
RAW = Dataset("file", "/data/in/orders.csv")


def test_wrap_output_declares_and_updates_a_dataset(wrap: Wrap, home: Path) -> None:
    done = wrap(
        "--job", "export", "--output", ORDERS.uri, "--input", "file:///data/in/orders.csv",
        "--", "true",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with Store.open(f"sqlite:///{home / 'runwatch.db'}") as store:
        first = {s.dataset: s for s in dataset_states(store)}
    assert first[ORDERS].producers == ("export/export",)
    assert first[RAW].consumers == ("export/export",)
    bad = wrap("--job", "export", "--output", "orders", "--", "true")
    assert bad.returncode == 0  # a bad option never stops the command
    assert b"--output ignored: expected a dataset URI" in bad.stderr
    with Store.open(f"sqlite:///{home / 'runwatch.db'}") as store:
        states = {s.dataset: s for s in dataset_states(store)}
    # the second run declared no valid output: it produces nothing now
    assert states[ORDERS].producers == ()
    assert states[ORDERS].last_update is not None
    assert states[ORDERS].last_update.job == "export"
    assert RAW not in states  # no longer declared, never updated
