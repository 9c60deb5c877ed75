"""Datasets as OpenLineage names them: a namespace (the data source) and a name in it.

A dataset URI is split by OpenLineage's dataset naming spec (spec/Naming.md): the
namespace is ``scheme://authority`` and the name the path —
``postgres://warehouse:5432/analytics.public.orders`` is ``postgres://warehouse:5432`` +
``analytics.public.orders``, ``s3://bucket/path/orders.parquet`` is ``s3://bucket`` +
``path/orders.parquet``, ``file:///data/in/orders.csv`` is ``file`` +
``/data/in/orders.csv``. Imports nothing but ``urllib.parse`` (wrap's budget).
"""

from __future__ import annotations

from urllib.parse import urlsplit

_DEFAULT_PORTS = {"postgres": 5432, "mysql": 3306, "redshift": 5439, "mssql": 1433}
_SCHEME_ALIASES = {"postgresql": "postgres"}
_TABLE_PARTS = {"postgres": 3, "redshift": 3, "mysql": 2, "mssql": 3}
"""How many dot-separated parts a table's name has (database.schema.table, database.table)."""
_OBJECT_STORES = ("s3", "s3a", "gs", "gcs", "abfs", "abfss", "wasbs", "hdfs")


class Dataset:
    """A table, file or object a task reads or writes, by its OpenLineage namespace and name.

    A value (equal, hashed and ordered by namespace, then name); a plain class, because
    wrap imports it and dataclasses costs wrap's budget.
    """

    __slots__ = ("name", "namespace")

    def __init__(self, namespace: str, name: str) -> None:
        self.namespace = namespace
        self.name = name

    def _key(self) -> tuple[str, str]:
        return (self.namespace, self.name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Dataset) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __lt__(self, other: Dataset) -> bool:
        return self._key() < other._key()

    def __repr__(self) -> str:
        return f"Dataset(namespace={self.namespace!r}, name={self.name!r})"

    @property
    def uri(self) -> str:
        """The URI that names it again (``namespace/name``; ``file:`` + an absolute path)."""
        if self.namespace == "file":
            return f"file://{self.name}"
        return f"{self.namespace}/{self.name}"

    def __str__(self) -> str:
        return self.uri


def parse_dataset_uri(uri: str) -> Dataset:
    """The dataset a URI names; ValueError says what is wrong with it."""
    if not uri.strip() or uri != uri.strip():
        raise ValueError(f"a dataset URI cannot be empty or padded with spaces, got {uri!r}")
    parts = urlsplit(uri)
    if "@" in parts.netloc:
        raise ValueError(
            "a dataset URI names data, not credentials: remove the user and password "
            f"from {_without_credentials(uri)!r}"
        )
    scheme = _SCHEME_ALIASES.get(parts.scheme.lower(), parts.scheme.lower())
    if not scheme or "://" not in uri:
        raise ValueError(
            f"expected a dataset URI such as postgres://host:5432/db.schema.table, "
            f"s3://bucket/key or file:///path, got {uri!r}"
        )
    if parts.query or parts.fragment:
        raise ValueError(f"a dataset URI has no query or fragment, got {uri!r}")
    if scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise ValueError(f"a file dataset is file:///absolute/path, got {uri!r}")
        return Dataset("file", parts.path)
    host = parts.hostname
    if not host:
        raise ValueError(f"a {scheme}:// dataset URI names its host or bucket, got {uri!r}")
    name = parts.path.lstrip("/")
    if not name:
        raise ValueError(f"the dataset URI {uri!r} names no table or path after the host")
    if scheme in _OBJECT_STORES:
        authority = parts.netloc
    else:
        try:
            port = parts.port or _DEFAULT_PORTS.get(scheme)
        except ValueError:
            raise ValueError(f"the port of {uri!r} is not a number from 0 to 65535") from None
        authority = f"{host}:{port}" if port is not None else host
    expected = _TABLE_PARTS.get(scheme)
    if expected is not None and len(name.split(".")) != expected:
        shape = "database.schema.table" if expected == 3 else "database.table"
        raise ValueError(f"a {scheme} dataset is named {shape}, got {name!r} in {uri!r}")
    return Dataset(f"{scheme}://{authority}", name)


def _without_credentials(uri: str) -> str:
    scheme, _, rest = uri.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}"
