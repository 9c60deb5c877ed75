"""The ``inputs:`` and ``outputs:`` keys of a task: datasets by URI or by namespace and name."""

from __future__ import annotations

from collections.abc import Mapping

from runner.config_fields import Location, boolean, check_keys, shown, suggest
from runner.dataset_names import Dataset, parse_dataset_uri
from runner.model import DatasetSchedule

_EXPLICIT_KEYS = ("namespace", "name")
_SCHEDULE_KEYS = ("datasets", "any")


def datasets(value: object, where: Location) -> tuple[Dataset, ...]:
    """A list of datasets: URIs (``postgres://host:5432/db.schema.table``, ``s3://bucket/key``,
    ``file:///path``) or ``{namespace: …, name: …}`` mappings; one item may stand alone."""
    items = [value] if isinstance(value, str | Mapping) else value
    if not isinstance(items, list | tuple):
        raise where.error(
            f"expected a list of dataset URIs or {{namespace, name}} mappings, got {shown(value)}"
        )
    return tuple(dict.fromkeys(dataset(item, where) for item in items))


def dataset(value: object, where: Location) -> Dataset:
    """One dataset: a URI, or an explicit ``{namespace: …, name: …}``."""
    if isinstance(value, str):
        try:
            return parse_dataset_uri(value)
        except ValueError as exc:
            raise where.error(str(exc)) from None
    if isinstance(value, Mapping):
        for key in value:
            if key not in _EXPLICIT_KEYS:
                raise where.error(suggest(str(key), _EXPLICIT_KEYS))
        parts = [value.get(key) for key in _EXPLICIT_KEYS]
        if not all(isinstance(part, str) and part.strip() for part in parts):
            raise where.error(
                f"a dataset mapping needs both 'namespace' and 'name' as text, got {shown(value)}"
            )
        namespace, name = (str(part) for part in parts)
        return Dataset(namespace, name)
    raise where.error(
        f"expected a dataset URI or a {{namespace, name}} mapping, got {shown(value)}"
    )


def dataset_schedule(value: Mapping[object, object], where: Location) -> DatasetSchedule:
    """``{datasets: [URI or {namespace, name}, …], any: false}``: a data-aware schedule."""
    check_keys(value, _SCHEDULE_KEYS, where)
    found = datasets(value["datasets"], where.at("datasets"))
    if not found:
        raise where.at("datasets").error("a data-aware schedule names at least one dataset")
    any_one = value.get("any")
    return DatasetSchedule(
        found, any=False if any_one is None else boolean(any_one, where.at("any"))
    )
