"""`SqliteStore`: the embedded implementation of the `Store` port (see `store.py` for the contract).

Durability choices:
- WAL journal: readers (`terrarium status`, a second process) never block the writer, and a commit
  is one append to the WAL, so `kill -9` at any instant leaves either the whole transaction or none.
- `synchronous=NORMAL`: in WAL mode a commit survives the *process* dying (the WAL pages are in the
  OS page cache and SQLite replays them on next open); only an OS crash or power cut can lose the
  last few commits, and even then the file is never corrupt. `FULL` would add an fsync per commit
  (milliseconds each) to guard against power loss, which the state's real consumers — containers
  and namespaces that die with the host anyway — do not need; resync at start repairs the rest.
- foreign keys on: a record cannot name a missing parent, and a parent with children cannot go.
- `busy_timeout`: another process holding the write lock briefly makes us wait, not fail.

Threading: one connection, guarded by one re-entrant lock. aiohttp handlers call in from the event
loop thread and the reconciler from worker threads; statements are sub-millisecond, so serialising
them is cheaper than a pool. A `transaction()` holds the lock until it ends, so other threads wait
at their first call rather than interleaving with it. Keep transactions short and never `await`
inside one.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from runtime.errors import Conflict, NotFound, Transient
from runtime.state.migrations import migrate
from runtime.state.records import Job, Json, Key, LogEvent, Record
from runtime.state.store import ChangeCallback, SpecUpdate, WhereValue

LOG = logging.getLogger(__name__)

_RECORD_COLUMNS = ("kind, id, account, spec, status, generation, observed_generation, created, updated, "
                   "tags, parent, name")
_JOB_COLUMNS = "id, topic, payload, attempts, not_before, lease_until, created"
_SPEC_KEY = re.compile(r"[A-Za-z0-9_\-]+")


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, allow_nan=False)


def _record(row: tuple) -> Record:
    kind, id_, account, spec, status, gen, observed, created, updated, tags, parent, name = row
    return Record(kind=kind, id=id_, account=account, spec=json.loads(spec), status=json.loads(status),
                  generation=gen, observed_generation=observed, created=created, updated=updated,
                  tags=json.loads(tags), parent=parent, name=name)


def _job(row: tuple) -> Job:
    id_, topic, payload, attempts, not_before, lease_until, created = row
    return Job(id=id_, topic=topic, payload=json.loads(payload), attempts=attempts,
               not_before=not_before, lease_until=lease_until, created=created)


def _where_clause(key: str, value: WhereValue) -> tuple[str, list[Any]]:
    """SQL for one `where` entry: equality (or any-of) on a top-level spec key."""
    if not _SPEC_KEY.fullmatch(key):
        raise ValueError(f"where key {key!r} is not a plain spec key")
    path = f'$."{key}"'
    values = list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]
    for v in values:
        if not isinstance(v, (str, int, float, bool, type(None))):
            raise TypeError(f"where value for {key!r} must be a JSON scalar, got {type(v).__name__}")
    present = [v for v in values if v is not None]
    tests, params = [], []
    if present:
        tests.append(f"json_extract(spec, ?) IN ({','.join('?' * len(present))})")
        params += [path, *present]
    if len(present) < len(values):
        tests.append("json_extract(spec, ?) IS NULL")
        params.append(path)
    if not tests:
        return "0", []  # an empty any-of matches nothing
    return f"({' OR '.join(tests)})", params


class SqliteStore:
    """The `Store` on one SQLite file. Open it once per process; `close()` on shutdown."""

    def __init__(self, path: str | Path, *, clock: Callable[[], float] = time.time,
                 busy_timeout_ms: int = 5000) -> None:
        self.path = Path(path)
        self._clock = clock
        self._lock = threading.RLock()
        self._pending: list[set[Key]] = []  # changed keys per open (save)point, outermost first
        self._subscribers: list[ChangeCallback] = []
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode != "wal":
                raise RuntimeError(f"{self.path}: SQLite refused WAL mode (got {mode!r})")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._conn.execute(f"PRAGMA busy_timeout={busy_timeout_ms:d}")
            migrate(self._conn)
        except BaseException:
            self._conn.close()
            raise

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # --- transactions and change notification ----------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        committed: set[Key] = set()
        with self._lock:
            depth = len(self._pending)
            self._begin(depth)
            self._pending.append(set())
            try:
                yield
            except BaseException:
                self._pending.pop()
                self._rollback(depth)
                raise
            keys = self._pending.pop()
            if depth == 0:
                self._commit()
                committed = keys
            else:
                self._conn.execute(f"RELEASE sp{depth}")
                self._pending[-1] |= keys
        if committed:
            self._notify(frozenset(committed))

    def _begin(self, depth: int) -> None:
        try:
            # IMMEDIATE takes the write lock up front, so a transaction never fails half-way
            # because another process started writing after we read.
            self._conn.execute("BEGIN IMMEDIATE" if depth == 0 else f"SAVEPOINT sp{depth}")
        except sqlite3.OperationalError as exc:
            raise Transient(f"state database busy: {exc}") from exc

    def _rollback(self, depth: int) -> None:
        if not self._conn.in_transaction:
            return  # SQLite already rolled back on its own (e.g. disk full); nothing left to undo
        if depth == 0:
            self._conn.execute("ROLLBACK")
        else:
            self._conn.execute(f"ROLLBACK TO sp{depth}")
            self._conn.execute(f"RELEASE sp{depth}")

    def _commit(self) -> None:
        try:
            self._conn.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise

    def _changed(self, key: Key) -> None:
        self._pending[-1].add(key)

    def subscribe(self, callback: ChangeCallback) -> Callable[[], None]:
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def _notify(self, keys: frozenset[Key]) -> None:
        # Outside the lock: a subscriber may read the store (from this thread or another).
        with self._lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(keys)
            except Exception:
                LOG.exception("change subscriber %r failed", callback)

    # --- reads -------------------------------------------------------------------------------------
    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql, tuple(params)).fetchall()

    def _find_row(self, kind: str, id: str) -> Record | None:
        rows = self._query(f"SELECT {_RECORD_COLUMNS} FROM records WHERE kind = ? AND id = ?", (kind, id))
        return _record(rows[0]) if rows else None

    def get(self, kind: str, id: str) -> Record:
        record = self._find_row(kind, id)
        if record is None:
            raise NotFound(f"{kind} {id} does not exist")
        return record

    def find(self, kind: str, account: str, name: str) -> Record | None:
        rows = self._query(f"SELECT {_RECORD_COLUMNS} FROM records WHERE kind = ? AND account = ? AND name = ?",
                           (kind, account, name))
        return _record(rows[0]) if rows else None

    def list(self, kind: str, account: str | None = None, parent: str | None = None,
             where: Mapping[str, WhereValue] | None = None) -> list[Record]:
        clauses, params = ["kind = ?"], [kind]
        if account is not None:
            clauses.append("account = ?")
            params.append(account)
        if parent is not None:
            clauses.append("parent = ?")
            params.append(parent)
        for key, value in (where or {}).items():
            clause, more = _where_clause(key, value)
            clauses.append(clause)
            params += more
        sql = f"SELECT {_RECORD_COLUMNS} FROM records WHERE {' AND '.join(clauses)} ORDER BY rowid"
        return [_record(row) for row in self._query(sql, params)]

    # --- record writes -----------------------------------------------------------------------------
    def put(self, kind: str, id: str, account: str, spec: Json, *, name: str | None = None,
            parent: str | None = None, tags: Mapping[str, str] | None = None) -> Record:
        with self.transaction():
            if self._find_row(kind, id) is not None:
                raise Conflict(f"{kind} {id} already exists")
            if name is not None and self.find(kind, account, name) is not None:
                raise Conflict(f"{kind} named {name!r} already exists in account {account}")
            parent_kind = None
            if parent is not None:
                kinds = self._query("SELECT kind FROM records WHERE id = ? AND account = ?", (parent, account))
                if not kinds:
                    raise NotFound(f"parent {parent} of {kind} {id} does not exist")
                if len(kinds) > 1:
                    raise Conflict(f"parent id {parent} is ambiguous: {sorted(k for (k,) in kinds)}")
                parent_kind = kinds[0][0]
            now = self._clock()
            self._conn.execute(
                "INSERT INTO records (kind, id, account, name, parent, parent_kind, spec, tags, created, updated)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (kind, id, account, name, parent, parent_kind, _dumps(spec), _dumps(dict(tags or {})), now, now))
            self._changed((kind, id))
            return self.get(kind, id)

    def update_spec(self, kind: str, id: str, spec: SpecUpdate, *,
                    expected_generation: int | None = None) -> Record:
        with self.transaction():
            record = self.get(kind, id)
            if expected_generation is not None and record.generation != expected_generation:
                raise Conflict(f"{kind} {id} is at generation {record.generation}, "
                               f"not {expected_generation}")
            new_spec = spec(copy.deepcopy(record.spec)) if callable(spec) else spec
            if new_spec == record.spec:
                return record
            self._conn.execute(
                "UPDATE records SET spec = ?, generation = generation + 1, updated = ? WHERE kind = ? AND id = ?",
                (_dumps(new_spec), self._clock(), kind, id))
            self._changed((kind, id))
            return self.get(kind, id)

    def update_status(self, kind: str, id: str, status_patch: Json, *,
                      observed_generation: int | None = None) -> Record:
        with self.transaction():
            record = self.get(kind, id)
            status = dict(record.status)
            for key, value in status_patch.items():
                if value is None:
                    status.pop(key, None)
                else:
                    status[key] = value
            observed = record.observed_generation if observed_generation is None else observed_generation
            if status == record.status and observed == record.observed_generation:
                return record
            self._conn.execute(
                "UPDATE records SET status = ?, observed_generation = ?, updated = ? WHERE kind = ? AND id = ?",
                (_dumps(status), observed, self._clock(), kind, id))
            self._changed((kind, id))
            return self.get(kind, id)

    def _write_tags(self, kind: str, id: str, edit: Callable[[dict[str, str]], None]) -> Record:
        with self.transaction():
            record = self.get(kind, id)
            tags = dict(record.tags)
            edit(tags)
            if tags == record.tags:
                return record
            self._conn.execute("UPDATE records SET tags = ?, updated = ? WHERE kind = ? AND id = ?",
                               (_dumps(tags), self._clock(), kind, id))
            self._changed((kind, id))
            return self.get(kind, id)

    def set_tags(self, kind: str, id: str, tags: Mapping[str, str]) -> Record:
        return self._write_tags(kind, id, lambda current: current.update(tags))

    def delete_tags(self, kind: str, id: str, keys: Iterable[str]) -> Record:
        doomed = set(keys)

        def edit(current: dict[str, str]) -> None:
            for key in doomed:
                current.pop(key, None)

        return self._write_tags(kind, id, edit)

    def delete(self, kind: str, id: str) -> None:
        with self.transaction():
            self.get(kind, id)
            children = self._query("SELECT kind, id FROM records WHERE parent_kind = ? AND parent = ? LIMIT 5",
                                   (kind, id))
            if children:
                names = ", ".join(f"{k} {i}" for k, i in children)
                raise Conflict(f"{kind} {id} still has dependents: {names}")
            self._conn.execute("DELETE FROM records WHERE kind = ? AND id = ?", (kind, id))
            self._changed((kind, id))

    # --- job queue -----------------------------------------------------------------------------------
    def enqueue(self, topic: str, payload: Json, *, not_before: float = 0.0) -> int:
        with self.transaction():
            cursor = self._conn.execute(
                "INSERT INTO jobs (topic, payload, not_before, created) VALUES (?, ?, ?, ?)",
                (topic, _dumps(payload), not_before, self._clock()))
            return cursor.lastrowid

    def claim(self, topic: str, *, now: float, lease_seconds: float) -> Job | None:
        with self.transaction():
            rows = self._query(
                "SELECT id FROM jobs WHERE topic = ? AND not_before <= ?"
                " AND (lease_until IS NULL OR lease_until <= ?) ORDER BY not_before, id LIMIT 1",
                (topic, now, now))
            if not rows:
                return None
            row = self._conn.execute(
                f"UPDATE jobs SET lease_until = ?, attempts = attempts + 1 WHERE id = ? RETURNING {_JOB_COLUMNS}",
                (now + lease_seconds, rows[0][0])).fetchone()
            return _job(row)

    def complete(self, job_id: int) -> None:
        with self.transaction():
            self._conn.execute("DELETE FROM jobs WHERE id = ?", (job_id,))

    def fail(self, job_id: int, retry_at: float) -> None:
        with self.transaction():
            self._conn.execute("UPDATE jobs SET lease_until = NULL, not_before = ? WHERE id = ?",
                               (retry_at, job_id))

    def release_leases(self, topic: str, *, now: float) -> int:
        with self.transaction():
            return self._conn.execute(
                "UPDATE jobs SET lease_until = NULL, not_before = MIN(not_before, ?)"
                " WHERE topic = ? AND lease_until IS NOT NULL", (now, topic)).rowcount

    # --- meta and maintenance ------------------------------------------------------------------------
    def append_log_events(self, account: str, group: str, stream: str,
                          events: Iterable[tuple[int, str]]) -> int:
        now = int(self._clock() * 1000)
        rows = [(account, group, stream, int(ts), now, message) for ts, message in events]
        with self.transaction():
            self._conn.executemany(
                "INSERT INTO log_events (account, log_group, log_stream, timestamp, ingestion, message)"
                " VALUES (?, ?, ?, ?, ?, ?)", rows)
        return len(rows)

    def read_log_events(self, account: str, group: str, *, streams: Iterable[str] | None = None,
                        start: int | None = None, end: int | None = None, after_seq: int = 0,
                        limit: int = 10000, descending: bool = False) -> list[LogEvent]:
        sql = ["SELECT seq, log_stream, timestamp, ingestion, message FROM log_events"
               " WHERE account = ? AND log_group = ? AND seq > ?"]
        params: list[Any] = [account, group, after_seq]
        if streams is not None:
            names = list(streams)
            sql.append(f"AND log_stream IN ({','.join('?' * len(names))})")
            params += names
        if start is not None:
            sql.append("AND timestamp >= ?")
            params.append(start)
        if end is not None:
            sql.append("AND timestamp < ?")
            params.append(end)
        order = "DESC" if descending else "ASC"
        sql.append(f"ORDER BY timestamp {order}, seq {order} LIMIT ?")
        params.append(limit)
        return [LogEvent(*row) for row in self._query(" ".join(sql), params)]

    def delete_log_events(self, account: str, group: str, stream: str | None = None) -> None:
        with self.transaction():
            if stream is None:
                self._conn.execute("DELETE FROM log_events WHERE account = ? AND log_group = ?", (account, group))
            else:
                self._conn.execute("DELETE FROM log_events WHERE account = ? AND log_group = ? AND log_stream = ?",
                                   (account, group, stream))

    def count_by_kind(self) -> dict[str, int]:
        return dict(self._query("SELECT kind, count(*) FROM records GROUP BY kind ORDER BY kind"))

    def get_meta(self, key: str, default: Any = None) -> Any:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else default

    def set_meta(self, key: str, value: Any) -> None:
        with self.transaction():
            self._conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, _dumps(value)))

    def check(self) -> list[str]:
        """Problems found by SQLite's integrity and foreign-key checks; empty when healthy."""
        problems = [row[0] for row in self._query("PRAGMA integrity_check") if row[0] != "ok"]
        problems += [f"foreign key: {row}" for row in self._query("PRAGMA foreign_key_check")]
        return problems
