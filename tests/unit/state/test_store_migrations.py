"""Schema migrations: a fresh database, an older one, a failed step, and a newer one refused."""

from __future__ import annotations

import sqlite3

import pytest

from runtime.state import SchemaTooNew, SqliteStore
from runtime.state.migrations import MIGRATIONS, Migration, migrate, schema_version

ACCOUNT = "123456789012"


def _connect(path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_opening_an_empty_file_creates_the_latest_schema_in_wal_mode(tmp_path):
    path = tmp_path / "state.db"
    SqliteStore(path).close()
    conn = _connect(path)
    assert schema_version(conn) == len(MIGRATIONS)
    assert {"records", "jobs", "meta"} <= _tables(conn)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    indexes = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"records_name", "records_parent", "records_children", "jobs_due"} <= indexes


def test_the_store_connection_has_the_documented_pragmas(store):
    conn = store._conn  # the settings are per connection, so only the store's own one can tell
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000


def test_reopening_is_a_no_op(tmp_path):
    path = tmp_path / "state.db"
    with SqliteStore(path) as s:
        s.put("ec2.vpc", "vpc-1", ACCOUNT, {})
    conn = _connect(path)
    assert migrate(conn) == len(MIGRATIONS)
    with SqliteStore(path) as s:
        assert s.get("ec2.vpc", "vpc-1")


def test_an_older_database_is_migrated_forward(tmp_path):
    conn = _connect(tmp_path / "state.db")
    assert migrate(conn) == 0
    conn.execute("INSERT INTO meta (key, value) VALUES ('k', '1')")
    extra = Migration("add a column", ("ALTER TABLE meta ADD COLUMN note TEXT NOT NULL DEFAULT 'x'",))
    assert migrate(conn, MIGRATIONS + (extra,)) == len(MIGRATIONS)
    assert schema_version(conn) == len(MIGRATIONS) + 1
    assert conn.execute("SELECT key, value, note FROM meta").fetchall() == [("k", "1", "x")]


def test_a_failing_step_leaves_the_old_schema_untouched(tmp_path):
    conn = _connect(tmp_path / "state.db")
    migrate(conn)
    broken = Migration("half done", ("CREATE TABLE half (x)", "THIS IS NOT SQL"))
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn, MIGRATIONS + (broken,))
    assert schema_version(conn) == len(MIGRATIONS)
    assert "half" not in _tables(conn)
    assert not conn.in_transaction


def test_a_newer_database_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "state.db"
    SqliteStore(path).close()
    conn = _connect(path)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 7}")
    conn.close()
    with pytest.raises(SchemaTooNew, match="newer than this Terrarium"):
        SqliteStore(path)
    assert schema_version(_connect(path)) == len(MIGRATIONS) + 7
