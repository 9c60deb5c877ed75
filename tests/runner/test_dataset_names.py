"""Dataset URIs split into OpenLineage namespace and name by the dataset naming spec."""

from __future__ import annotations

import re

import pytest

from runner.dataset_names import Dataset, parse_dataset_uri


@pytest.mark.parametrize(
    ("uri", "namespace", "name"),
    [
        (
            "postgres://warehouse:5432/analytics.public.orders",
            "postgres://warehouse:5432",
            "analytics.public.orders",
        ),
        ("postgresql://Warehouse/analytics.public.orders", "postgres://warehouse:5432", None),
        ("mysql://db.internal/shop.orders", "mysql://db.internal:3306", "shop.orders"),
        ("s3://bucket/path/orders.parquet", "s3://bucket", "path/orders.parquet"),
        ("gs://bucket/a/b.csv", "gs://bucket", "a/b.csv"),
        ("file:///data/in/orders.csv", "file", "/data/in/orders.csv"),
        ("bigquery://project/dataset.table", "bigquery://project", "dataset.table"),
    ],
)
def test_a_uri_is_split_into_namespace_and_name(uri: str, namespace: str, name: str | None) -> None:
    dataset = parse_dataset_uri(uri)
    assert dataset.namespace == namespace
    assert dataset.name == (name or "analytics.public.orders")
    assert parse_dataset_uri(dataset.uri) == dataset


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("orders", "expected a dataset URI such as postgres://host:5432/db.schema.table"),
        ("postgres://h/orders", "a postgres dataset is named database.schema.table"),
        ("file://host/data.csv", "a file dataset is file:///absolute/path"),
        ("s3://bucket/", "names no table or path after the host"),
        ("postgres://h:99999/a.b.c", "is not a number from 0 to 65535"),
        ("s3://bucket/key?versionId=3", "has no query or fragment"),
        (" s3://bucket/key", "padded with spaces"),
    ],
)
def test_a_bad_uri_says_what_is_wrong(uri: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_dataset_uri(uri)


def test_credentials_in_a_uri_are_refused_and_never_repeated() -> None:
    with pytest.raises(ValueError, match="not credentials") as caught:
        parse_dataset_uri("postgres://etl:hunter2@warehouse:5432/analytics.public.orders")
    assert "hunter2" not in str(caught.value)
    assert "etl" not in str(caught.value)


def test_datasets_order_and_compare_by_namespace_then_name() -> None:
    a, b = Dataset("file", "/b"), Dataset("file", "/a")
    assert sorted([a, b]) == [b, a]
    assert str(a) == "file:///b"
