"""How a Python task's callable travels to a worker: a pickle that names it by reference.

A function decorated with ``@task`` is shadowed in its module by the decorator's wrapper,
so the standard pickle of the plain function fails ("not the same object") and every
attempt fell back to a freshly forked worker. Here such a function is pickled as "the
``__wrapped__`` of ``module.qualname``", which any worker that imported the module can
load — so README-style tasks run on warm workers like any module-level function.
"""

from __future__ import annotations

import importlib
import io
import pickle
import sys
import types
from typing import Any


def dumps_call(value: object) -> bytes:
    """Pickle ``value`` (a callable with its arguments), decorated functions by reference."""
    buffer = io.BytesIO()
    _Pickler(buffer, pickle.HIGHEST_PROTOCOL).dump(value)
    return buffer.getvalue()


def wrapped_function(module: str, qualname: str) -> Any:
    """The function that ``module.qualname`` wraps (called when the pickle is loaded)."""
    return _lookup(importlib.import_module(module), qualname).__wrapped__


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        if not isinstance(obj, types.FunctionType) or "<locals>" in obj.__qualname__:
            return NotImplemented
        module_name, qualname = obj.__module__, obj.__qualname__
        try:
            found = _lookup(sys.modules.get(module_name), qualname)
        except AttributeError:
            return NotImplemented
        if found is not obj and getattr(found, "__wrapped__", None) is obj:
            return wrapped_function, (module_name, qualname)
        return NotImplemented


def _lookup(module: object, qualname: str) -> Any:
    if module is None:
        raise AttributeError(qualname)
    found = module
    for part in qualname.split("."):
        found = getattr(found, part)
    return found
