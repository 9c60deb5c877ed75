"""Raw SQL on a store, for the tests that need a row no store function writes or reads.

The store's connection is private (``Store._db``): the code reaches the tables only
through ``Store`` and the query modules of ``runner.store``. A test that must plant a
row by hand (a corrupt payload, a row from an older runwatch) or read a column back
goes through ``sql(store)``, so that door is one function, easy to find and to audit.
Wrap's lean-path functions take ``store.spine_connection()`` instead, as ``serve`` does.
"""

from __future__ import annotations

from runner.store.database import Database
from runner.store.store import Store


def sql(store: Store) -> Database:
    """The store's own connection: SQL run on it joins the store's transactions."""
    return store._db
