"""The embedded store: SQLite with FTS5, one database per user, every row tagged with the release it
came from."""

from hcpcs.store.db import Store, default_home, open_store

__all__ = ["Store", "default_home", "open_store"]
