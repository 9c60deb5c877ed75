"""A package's public names, imported on first use (PEP 562).

A package lists each public name with the module that defines it and binds what
``lazy_names`` returns as its ``__getattr__`` and ``__dir__``::

    __getattr__, __dir__ = lazy_names(__name__, _HOMES, globals())

so importing the package costs nothing, and a caller pays only for the modules whose
names it uses. Imports nothing itself (not even ``typing``), for wrap's budget.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any


def lazy_names(
    package: str, homes: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``, whose names live in the modules
    ``homes`` gives (relative to the package); ``namespace`` is its ``globals()``."""

    def find(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{home}"), name)
        namespace[name] = value  # found at once the next time
        return value

    def names() -> list[str]:
        return sorted({*namespace, *homes})

    return find, names
