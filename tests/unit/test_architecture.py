"""The layout's promises: the store's schema is what the table specs say, whichever way the store was made,
and every stage imports only from the stages below it."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from hcpcs.core.tables import DATASETS, TABLE_SPECS, TABLES
from hcpcs.store.db import Store
from hcpcs.store.schema import MIGRATIONS, create_statements

ROOT = Path(__file__).resolve().parents[2]


def _shape(conn: sqlite3.Connection) -> dict[str, object]:
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    indexes = sorted(r[0] for r in conn.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"))
    return {
        "columns": {t: [(r[1], r[2].upper(), bool(r[3])) for r in conn.execute(f"PRAGMA table_info({t})")] for t in tables},
        "indexes": [" ".join(i.split()) for i in indexes],
    }


def test_a_store_migrated_from_the_first_schema_matches_one_made_from_the_specs(tmp_path: Path) -> None:
    migrated = sqlite3.connect(tmp_path / "migrated.sqlite")
    for number, script in enumerate(MIGRATIONS, start=1):
        migrated.executescript(f"{script}\nPRAGMA user_version={number};")
    fresh = Store(tmp_path / "fresh.sqlite")
    assert fresh.schema_version == len(MIGRATIONS)
    assert _shape(migrated) == _shape(fresh.conn)


def test_the_specs_say_what_the_schema_statements_create() -> None:
    conn = sqlite3.connect(":memory:")
    for statement in create_statements():
        conn.execute(statement)
    for spec in TABLE_SPECS:
        columns = [r[1] for r in conn.execute(f"PRAGMA table_info({spec.name})")]
        assert columns == ["release_id", *spec.column_names]
        assert spec.code_column is None or spec.code_column in spec.column_names
        assert set(spec.frame_columns) <= set(spec.column_names)
        assert set(spec.key) <= set(spec.column_names)
    for dataset in DATASETS.values():
        assert all(table in TABLES for table in dataset.tables)


def test_stages_import_only_downwards() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    if not lint.exists():
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    done = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:]
