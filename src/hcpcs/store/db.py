"""Opening the store: where it lives, connection settings, schema migrations."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from hcpcs.core.errors import DataNotLoadedError, HcpcsError
from hcpcs.store.schema import MIGRATIONS, create_statements

DB_NAME = "hcpcs.sqlite"


def default_home() -> Path:
    """The data folder: $HCPCS_HOME, else the per-user data folder of this platform."""
    env = os.environ.get("HCPCS_HOME")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_path

    return user_data_path("hcpcs", appauthor=False)


class Store:
    """One SQLite database. Readers and the single writer (an update) can work at the same time (WAL):
    a running or interrupted update never disturbs what readers see."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        self.readonly = readonly
        if readonly:
            if not path.exists():
                raise DataNotLoadedError(
                    f"no hcpcs data at {path}; run `hcpcs update` (or `hcpcs update --from FOLDER`) first"
                )
            uri = f"file:{path}?mode=ro"
            self.conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            # WAL with synchronous=NORMAL cannot corrupt the database; a power cut may lose the last commit.
            self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.execute("PRAGMA cache_size=-65536")
        self.conn.row_factory = sqlite3.Row
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise HcpcsError(
                f"{path} was written by a newer hcpcs (schema {version}, this one knows {len(MIGRATIONS)})"
            )
        if version < len(MIGRATIONS):
            if readonly:
                raise DataNotLoadedError(f"{path} needs a schema upgrade; run `hcpcs update` once")
            self._migrate(version)
        self._releases_cache: object | None = None

    def _migrate(self, version: int) -> None:
        if version == 0:  # a new store: the schema of the newest version, from the table specs
            script = ";\n".join(create_statements())
            self.conn.executescript(f"BEGIN IMMEDIATE;\n{script};\nPRAGMA user_version={len(MIGRATIONS)};\nCOMMIT;")
            return
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            self.conn.executescript(f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def query(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, params).fetchall()

    def data_version(self) -> int:
        """Changes when another connection commits (an update): readers use it to notice new data."""
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    def optimize(self) -> None:
        """Let SQLite refresh its query-planner statistics after a large write."""
        self.conn.execute("PRAGMA optimize")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_store(home: Path | None = None, *, readonly: bool = True) -> Store:
    home = home or default_home()
    return Store(home / DB_NAME, readonly=readonly)
