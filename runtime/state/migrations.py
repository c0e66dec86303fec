"""Schema migrations: an append-only list of steps; the database's `PRAGMA user_version` says how
many have been applied.

Opening a database runs the missing steps and the new user_version in one transaction, so a crash
mid-migration leaves the old schema intact. A database written by a newer Terrarium (user_version
beyond this list) is refused rather than guessed at. Never edit a released step: append a new one.

Schema notes (version 1):
- `records` keeps spec, status and tags as JSON text (`json_valid` checked); `(kind, id)` is the
  key. `name` is unique per (kind, account) — SQLite treats NULLs as distinct, so unnamed records
  never collide. `parent_kind` is filled in by the store from the parent's row so that the
  composite foreign key can refuse deleting a parent that still has children; `records_id` makes
  that parent lookup (by id alone) an index seek.
- `jobs` is the durable work queue; `lease_until` set means claimed.
- `meta` holds small JSON values (account id, root access key, ...).

Version 2:
- `log_events` holds CloudWatch Logs events (what Lambda functions and users write); groups and streams
  themselves are records (`logs.group`, `logs.stream`). `seq` orders events and pages through them.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from runtime.errors import TerrariumError


class SchemaTooNew(TerrariumError):
    """The database was written by a newer Terrarium than this one."""


@dataclass(frozen=True)
class Migration:
    description: str
    statements: tuple[str, ...]

    def apply(self, conn: sqlite3.Connection) -> None:
        # One statement per execute: executescript() would commit the surrounding transaction.
        for statement in self.statements:
            conn.execute(statement)


MIGRATIONS: tuple[Migration, ...] = (
    Migration("records, jobs and meta", (
        """CREATE TABLE records (
            kind TEXT NOT NULL,
            id TEXT NOT NULL,
            account TEXT NOT NULL,
            name TEXT,
            parent TEXT,
            parent_kind TEXT,
            spec TEXT NOT NULL CHECK (json_valid(spec)),
            status TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(status)),
            tags TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(tags)),
            generation INTEGER NOT NULL DEFAULT 1,
            observed_generation INTEGER NOT NULL DEFAULT 0,
            created REAL NOT NULL,
            updated REAL NOT NULL,
            PRIMARY KEY (kind, id),
            FOREIGN KEY (parent_kind, parent) REFERENCES records (kind, id) ON DELETE RESTRICT,
            CHECK ((parent IS NULL) = (parent_kind IS NULL))
        ) STRICT""",
        "CREATE UNIQUE INDEX records_name ON records (kind, account, name)",
        "CREATE INDEX records_parent ON records (kind, parent)",
        "CREATE INDEX records_children ON records (parent_kind, parent)",
        "CREATE INDEX records_id ON records (id, account)",
        """CREATE TABLE jobs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            topic TEXT NOT NULL,
            payload TEXT NOT NULL CHECK (json_valid(payload)),
            not_before REAL NOT NULL,
            lease_until REAL,
            attempts INTEGER NOT NULL DEFAULT 0,
            created REAL NOT NULL
        ) STRICT""",
        "CREATE INDEX jobs_due ON jobs (topic, not_before)",
        """CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL CHECK (json_valid(value))
        ) STRICT""",
    )),
    Migration("CloudWatch Logs events", (
        """CREATE TABLE log_events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            account TEXT NOT NULL,
            log_group TEXT NOT NULL,
            log_stream TEXT NOT NULL,
            timestamp INTEGER NOT NULL,
            ingestion INTEGER NOT NULL,
            message TEXT NOT NULL
        ) STRICT""",
        "CREATE INDEX log_events_stream ON log_events (account, log_group, log_stream, timestamp)",
    )),
)


def schema_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def migrate(conn: sqlite3.Connection, steps: tuple[Migration, ...] = MIGRATIONS) -> int:
    """Bring the schema up to `len(steps)`; returns the version found before migrating.

    `conn` must be in autocommit mode (`isolation_level=None`) and outside a transaction.
    """
    target = len(steps)
    conn.execute("BEGIN IMMEDIATE")  # re-read under the write lock: another process may migrate too
    try:
        found = schema_version(conn)
        if found > target:
            raise SchemaTooNew(
                f"database schema version {found} is newer than this Terrarium understands "
                f"({target}); upgrade Terrarium or use another --data-dir")
        for step in steps[found:]:
            step.apply(conn)
        if found != target:
            conn.execute(f"PRAGMA user_version = {target:d}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return found
